"""STIX 2 indicators of compromise: loading, the local collection, and fast matching."""

from ayiq.phone.iocs.index import IocIndex
from ayiq.phone.iocs.model import Indicator, Match

__all__ = ["IocIndex", "Indicator", "Match"]
