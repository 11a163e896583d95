"""Hand-made scenes for map tests: every layer has something to draw, and user strings carry
XSS payloads, so that render tests check both what is drawn and how it is escaped."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

from shapely.geometry import Polygon

from geomap.analysis.geodesy import Distance
from geomap.analysis.model import ControlZone
from geomap.layers import names
from geomap.layers.scene import (
    UP_TO_DATE,
    Cell,
    Claim,
    DistanceLine,
    Group,
    MapIncident,
    MapSite,
    Scene,
)

XSS = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "</script><script>window.__xss=2</script>"
SOURCE = {"title": f"Report {XSS}", "publisher": "Wire <b>service</b>", "url": "https://example.org/a?x=1&y=2",
          "date": "2019-12-28"}
BAD_SOURCE = {"title": "Bad link", "publisher": "Nobody", "url": "javascript:alert(1)", "date": None}
GROUPS = {"islamic-state": Group("islamic-state", "Islamic State", "#d55e00"),
          "kataib-hezbollah": Group("kataib-hezbollah", f"KH {XSS}", "#009e73")}


def incident(iid: str, lon: float, lat: float, day: date, *, end: date | None = None, status: str = "reported",
             precision: float = 0.0, claims=(), title: str | None = None,
             event_type: str = "Explosions/Remote violence") -> MapIncident:
    return MapIncident(iid, title or f"Incident {iid}", lon, lat, precision, day, end or day, event_type, status,
                       description=f"Description of {iid} {XSS_SCRIPT}", location_name="Somewhere",
                       claims=tuple(Claim(g, "Some officials", s, (SOURCE,)) for g, s in claims),
                       sources=(SOURCE, BAD_SOURCE))


FOCUS = incident("focus", 44.21, 35.48, date(2019, 12, 27), status="estimate", precision=8000.0,
                 claims=(("kataib-hezbollah", "accused"), ("islamic-state", "assessed")), title=f"Attack {XSS}")
INCIDENTS = (
    FOCUS,
    incident("prior", 44.30, 35.40, date(2019, 12, 20), status="confirmed", claims=(("islamic-state", "claimed"),),
             event_type="Battles"),
    incident("older", 44.00, 35.60, date(2019, 11, 1), end=date(2019, 11, 5), precision=2000.0),
    incident("later", 44.25, 35.50, date(2020, 1, 10), claims=(("islamic-state", "claimed"),)),
)
SITES = (MapSite("k1", f"K-1 {XSS}", "air_base", 44.28417, 35.5125, 3000.0, "confirmed", (SOURCE,)),)
ZONES = (
    ControlZone("is-zone", f"IS zone {XSS}", "islamic-state", "presence", date(2019, 1, 1), date(2019, 12, 31),
                "medium", "estimate", 10000.0, Polygon([(43.9, 35.2), (44.4, 35.2), (44.4, 35.7), (43.9, 35.7)]),
                (SOURCE,), f"Notes {XSS}"),
    ControlZone("kh-zone", "KH zone", "kataib-hezbollah", "control", date(2020, 1, 1), None, "high", "reported", 0.0,
                Polygon([(44.5, 35.0), (44.7, 35.0), (44.7, 35.2), (44.5, 35.2)]), (SOURCE,)),
)
DISTANCES = (
    DistanceLine("target", f"K-1 {XSS}", 44.28417, 35.5125, Distance(7635.0, 0.0, 18635.0)),
    DistanceLine("prior", "Incident prior", 44.30, 35.40, Distance(12000.0, 0.0, 20000.0),
                 "nearest prior incident of Islamic State, 7 to 7 days before"),
)


def focus_scene(**changes) -> Scene:
    scene = Scene(title=f"Map {XSS}", extent=(43.8, 35.1, 44.8, 35.8), on=date(2019, 12, 27), window=UP_TO_DATE,
                  time_range=(date(2019, 11, 1), date(2020, 1, 10)), layers=names(), groups=GROUPS,
                  incidents=INCIDENTS, total_incidents=len(INCIDENTS), sites=SITES, zones=ZONES, focus=FOCUS,
                  distances=DISTANCES, rings_m=(1000.0, 5000.0, 10000.0, 25000.0), subtitle="2019-12-27",
                  links={"page": "http://localhost/maps/incidents/focus"})
    scene = replace(scene, **changes)
    return replace(scene, data_version=scene.version())


def cells_scene() -> Scene:
    cells = (Cell(44.1, 35.3, date(2019, 12, 1), date(2019, 12, 31), date(2019, 12, 2), date(2019, 12, 30),
                  (("islamic-state", 120), ("", 30)), (44.0, 35.2, 44.2, 35.4)),
             Cell(44.5, 35.1, date(2020, 1, 1), date(2020, 1, 31), date(2020, 1, 3), date(2020, 1, 3),
                  (("+", 4),), (44.4, 35.0, 44.6, 35.2)))
    return focus_scene(incidents=(), focus=None, cells=cells, total_incidents=154, distances=(), rings_m=(),
                       links={"drill": "/maps?group=islamic-state"}, window="all")
