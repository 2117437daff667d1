"""Reports: one self-contained HTML file (charts embedded, no network needed) over the trends of a store."""

from __future__ import annotations
