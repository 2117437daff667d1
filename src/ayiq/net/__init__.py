"""The network-interference instrument: probe, control, judges, OONI formats, ingest."""
