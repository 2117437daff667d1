"""The phone check's HTML report."""
