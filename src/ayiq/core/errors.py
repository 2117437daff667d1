"""Errors a person reads: each names the thing at fault and what to do next."""

from __future__ import annotations

from pathlib import Path


class AyiqError(Exception):
    """Base class: an error the CLI prints as one clear line and exits non-zero."""


class InputError(AyiqError):
    """An input file or folder cannot be used as given."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class StoreError(AyiqError):
    """The store cannot be opened or written."""
