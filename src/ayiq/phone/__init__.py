"""Spyware forensics on phone backups and dumps: fully offline, read-only, loud about what it could not read."""
