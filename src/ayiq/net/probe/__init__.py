"""Low-level probe steps: each does one network operation and returns a timed observation.

Observations are plain dicts in OONI's data format (ts-017 test_keys entries), so experiments only
compose them and the judge reads them as it reads OONI's own measurements.
"""
