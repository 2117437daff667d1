"""Reading and writing OONI's measurement format (df-000 envelope), every version seen in the wild."""
