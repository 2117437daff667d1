"""Experiments composed of probe steps, each producing one OONI-format measurement per target.

``web`` (web_connectivity-compatible) and ``sni`` here; every experiment returns the df-000 envelope with
its test_keys, documented in docs/formats/probe-<test>.md.
"""
