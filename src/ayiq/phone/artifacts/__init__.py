"""One module per artefact: parse -> records -> check(iocs) -> timeline."""
