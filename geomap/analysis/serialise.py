"""Analysis results as JSON-ready data: dates as ISO text, every distance as {best, min, max}
in metres. Features inside results keep their facts but not their geometry (zones are named by
id) nor their sources (a report lists every source once, with what it supports)."""
from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import date
from typing import Any

from geomap.analysis.model import ControlZone, Incident, Site

OMITTED = ("sources", "geometry")


def to_data(value: Any) -> Any:
    """Recursively convert dataclasses, tuples and dates into JSON-ready values."""
    if is_dataclass(value) and not isinstance(value, type):
        skip = OMITTED if isinstance(value, (Incident, Site, ControlZone)) else ()
        return {f.name: to_data(getattr(value, f.name)) for f in fields(value) if f.name not in skip}
    if isinstance(value, dict):
        return {k: to_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_data(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
