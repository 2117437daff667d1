"""Detections beyond indicators (shutdown.log, processes without a binary, ...)."""
