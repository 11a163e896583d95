"""One style sheet for both renderers: colours, status styles, zone kinds and legend entries.

Colours come from the groups table (each group has its own) or, by event type, from Paul Tol's
colour-blind-safe "bright" scheme. Uncertain things look uncertain: an estimated location is a
hollow, dashed marker; a zone of mere presence or activity is fainter and dashed.
"""
from __future__ import annotations

from dataclasses import dataclass

from geomap.layers.scene import CONTESTED, UNATTRIBUTED, Scene

EVENT_TYPE_COLORS = {
    "Battles": "#4477aa",
    "Explosions/Remote violence": "#ee6677",
    "Violence against civilians": "#aa3377",
    "Protests": "#66ccee",
    "Riots": "#ccbb44",
    "Strategic developments": "#228833",
}
OTHER_COLOR = "#bbbbbb"
CONTESTED_COLOR = "#222222"
UNATTRIBUTED_COLOR = "#9e9e9e"
SITE_COLOR = "#1b1b1b"
DISTANCE_COLOR = "#1b1b1b"
RING_COLOR = "#555555"
FOCUS_OUTLINE = "#000000"
UNCERTAINTY_COLOR = "#6b6b6b"  # neutral: no group's colour
# The groups' palette: each pair distinct (CAM02-UCS) for normal vision and under full
# deuteranopia, protanopia and tritanopia, checked by tests/layers/test_palette.py; a group's
# colour in data/groups.json is one of these. Okabe-Ito's vermillion, bluish green, blue and sky
# blue, with Paul Tol's purple instead of Okabe-Ito's orange (too close to the vermillion).
GROUP_PALETTE = ("#d55e00", "#009e73", "#0072b2", "#aa3377", "#66ccee", "#ccbb44")


@dataclass(frozen=True)
class Mark:
    """How a point, line or area looks, in terms both Leaflet and matplotlib understand."""

    color: str  # stroke colour
    fill: str | None = None  # fill colour (None: no fill)
    fill_opacity: float = 0.0
    weight: float = 1.5  # stroke width in pixels (points in matplotlib)
    dash: tuple[float, ...] = ()  # dash pattern in stroke widths; () is solid
    radius: float = 6.0  # marker radius in pixels (points)
    hatch: str = ""  # matplotlib hatch (static graphics only; Leaflet draws the dash)

    def leaflet(self) -> dict:
        style = {"color": self.color, "weight": self.weight, "opacity": 0.95,
                 "fill": self.fill is not None, "fillColor": self.fill or self.color,
                 "fillOpacity": self.fill_opacity, "radius": self.radius}
        if self.dash:
            style["dashArray"] = " ".join(f"{d * self.weight:g}" for d in self.dash)
        return style


@dataclass(frozen=True)
class LegendEntry:
    """One line of the legend: its label, the symbol drawn beside it (kind and mark), and its section."""

    label: str
    symbol: str  # "point", "site", "area", "line", "circle"
    mark: Mark
    section: str = ""


STATUS_MARKS = {  # fill opacity and outline by status: what we know is solid, what we guess is hollow
    "confirmed": {"fill_opacity": 0.9, "dash": (), "outline": "#ffffff"},
    "reported": {"fill_opacity": 0.5, "dash": (), "outline": None},
    "estimate": {"fill_opacity": 0.12, "dash": (2, 1.5), "outline": None},
}
ZONE_KINDS = {  # control is drawn firmly; presence and activity fainter, dashed and hatched
    "control": {"fill_opacity": 0.30, "dash": (), "hatch": ""},
    "presence": {"fill_opacity": 0.16, "dash": (4, 2.5), "hatch": "/"},
    "activity": {"fill_opacity": 0.08, "dash": (1, 2.5), "hatch": ""},
}


def category_color(scene: Scene, category: str) -> str:
    """The colour of an incident category: an event type's, or a group's (contested and unattributed have their own)."""
    if scene.color_by == "event_type":
        return EVENT_TYPE_COLORS.get(category, OTHER_COLOR)
    if category == CONTESTED:
        return CONTESTED_COLOR
    if category == UNATTRIBUTED:
        return UNATTRIBUTED_COLOR
    return scene.groups[category].color if category in scene.groups else OTHER_COLOR


def category_label(scene: Scene, category: str) -> str:
    """The legend's words for an incident category."""
    if scene.color_by == "event_type":
        return category
    if category == CONTESTED:
        return "Contested: attributed to 2+ groups"
    if category == UNATTRIBUTED:
        return "Not attributed"
    return scene.group_name(category)


def incident_category(scene: Scene, incident) -> str:
    """What an incident is coloured by: its event type, or its group (or contested, or unattributed)."""
    return incident.event_type if scene.color_by == "event_type" else incident.group_category


def incident_mark(scene: Scene, incident, focus: bool = False) -> Mark:
    """How an incident's point looks: its category's colour, its status's fill and dash, larger when it is the focus."""
    color = category_color(scene, incident_category(scene, incident))
    status = STATUS_MARKS.get(incident.status, STATUS_MARKS["reported"])
    outline = FOCUS_OUTLINE if focus else status["outline"] or color
    return Mark(color=outline, fill=color, fill_opacity=status["fill_opacity"], dash=status["dash"],
                weight=3.0 if focus else 1.8, radius=10.0 if focus else 6.5)


def status_mark(status: str) -> Mark:
    """The legend's mark for a status: grey, filled and dashed as incidents of that status are."""
    s = STATUS_MARKS[status]
    return Mark(color=s["outline"] or "#555555", fill="#555555", fill_opacity=s["fill_opacity"], dash=s["dash"],
                weight=1.8, radius=6.5)


def uncertainty_mark(scene: Scene, incident) -> Mark:
    """How an incident's precision circle looks: a dashed neutral grey, never a group's (or a zone's)
    colour, and the fainter the coarser: a 30 km district-level circle must not outweigh the zones
    and points it surrounds, while a 1 km circle stays visible."""
    return precision_mark(incident.precision_m)


def precision_mark(radius_m: float) -> Mark:
    """The precision circle of a radius: opacity falls with the radius (about 1/sqrt), within bounds."""
    scale = min(1.0, (1000.0 / max(radius_m, 1.0)) ** 0.5)
    return Mark(color=UNCERTAINTY_COLOR, fill=UNCERTAINTY_COLOR, fill_opacity=round(0.02 + 0.10 * scale, 3),
                weight=round(0.5 + 0.7 * scale, 2), dash=(3, 3))


def zone_mark(scene: Scene, zone) -> Mark:
    """How a zone looks: its group's colour, filled, dashed and hatched by its kind."""
    kind = ZONE_KINDS.get(zone.kind, ZONE_KINDS["presence"])
    color = scene.groups[zone.group].color if zone.group in scene.groups else OTHER_COLOR
    return Mark(color=color, fill=color, fill_opacity=kind["fill_opacity"], weight=2.0, dash=kind["dash"],
                hatch=kind["hatch"])


def cell_mark(scene: Scene, cell) -> Mark:
    """How a grid cell of incidents looks: its category's colour, its area growing with its count."""
    color = category_color(scene, cell.category)
    # Marker area grows with the count, so that a cell of 400 looks 4x a cell of 100.
    radius = min(24.0, 3.0 + 1.5 * cell.count ** 0.5)  # as geomap.cells in static/maps/geomap.js
    return Mark(color="#ffffff", fill=color, fill_opacity=0.75, weight=1.2, radius=radius)


SITE_MARK = Mark(color="#ffffff", fill=SITE_COLOR, fill_opacity=1.0, weight=1.2, radius=6.0)
DISTANCE_MARK = Mark(color=DISTANCE_COLOR, weight=2.0)
RING_MARK = Mark(color=RING_COLOR, weight=1.2, dash=(5, 4))
