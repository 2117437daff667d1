"""The dashboard: a read-only FastAPI app over the store (HTML pages, JSON API, OpenAPI docs)."""

from __future__ import annotations
