"""Map layers: a registry of names to layer classes (DESIGN.md decision 9).

Every built-in layer is registered below exactly as a new one would be: one module, one line.
The registry order is the drawing order (first drawn lowest).

>>> from geomap.layers import load, names
>>> names()[:3]
('basemap', 'zones', 'uncertainty')
>>> load("rings").title
'Distance rings'
"""
from __future__ import annotations

from importlib import import_module

LAYERS: dict[str, str] = {}  # name -> "module:Class"


def register(name: str, target: str) -> None:
    """Register a layer class under `name` (`target` is "package.module:Class")."""
    LAYERS[name] = target


def names() -> tuple[str, ...]:
    """The names of every registered layer, in registration order."""
    return tuple(LAYERS)


def load(name: str):
    """A new instance of the layer registered as `name`; KeyError names the known layers."""
    if name not in LAYERS:
        raise KeyError(f"unknown layer {name!r}; known layers: {', '.join(LAYERS)}")
    module, _, cls = LAYERS[name].partition(":")
    return getattr(import_module(module), cls)()


register("basemap", "geomap.layers.basemap:Basemap")
register("zones", "geomap.layers.zones:Zones")
register("uncertainty", "geomap.layers.uncertainty:Uncertainty")
register("rings", "geomap.layers.rings:Rings")
register("distances", "geomap.layers.distances:Distances")
register("incidents", "geomap.layers.incidents:Incidents")
register("claims", "geomap.layers.claims:Claims")
register("sites", "geomap.layers.sites:Sites")
register("time", "geomap.layers.timeslider:TimeSlider")
