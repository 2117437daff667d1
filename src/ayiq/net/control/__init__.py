"""The control server (test helper): measures a target from an uncensored vantage point for the probe.

API documented in docs/formats/control-api.md. It answers only holders of the token, is rate-limited per
client address, measures a bounded number of targets at once and keeps no per-request state after answering.
"""
