"""Ayiq: detect, measure and document digital repression with evidence that holds up."""

__version__ = "0.1.0"
