"""A map request as plain values: which incidents a selection shows (`Selection`), how the map
looks (`MapOptions`), and for a graphic its size; `map_request` parses them from query
parameters (strings), so that `GET /maps` and `geomap map` accept exactly the same values.
Every error names the parameter and what it allows (BadRequest, a 400 over HTTP). No Flask.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import quote, urlencode

from geomap.errors import BadRequest
from geomap.io import params
from geomap.layers import LAYERS
from geomap.layers.rings import DEFAULT_RINGS_M
from geomap.layers.scene import Bbox
from geomap.layers.size import Size

COLOR_BY = ("group", "event_type")
ALWAYS = ("basemap",)  # the offline basemap is always drawn
SELECTION_PARAMETERS = ("bbox", "datetime", "group", "event_type")
LOOK_PARAMETERS = ("layers", "date", "color_by", "title", "embed")
FOCUS_PARAMETERS = ("rings",)
IMAGE_PARAMETERS = ("width", "height", "dpi", "preset")
MAX_TITLE = 200
MAX_RINGS, MAX_RING_KM = 8, 500.0


@dataclass(frozen=True)
class Selection:
    """Which incidents, sites and zones a selection map shows (the items endpoint's filters)."""

    bbox: Bbox | None = None
    interval: tuple[date | None, date | None] | None = None
    groups: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class MapOptions:
    """How a map looks: its layers, colours, starting date and title."""

    layers: tuple[str, ...] | None = None  # None: every registered layer that has something to draw
    color_by: str = "group"
    on: date | None = None  # the time slider's starting date (zones in force on it)
    title: str | None = None
    rings_m: tuple[float, ...] = DEFAULT_RINGS_M
    links: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.color_by not in COLOR_BY:
            raise BadRequest(f"color_by: must be one of {', '.join(COLOR_BY)}; got {self.color_by!r}")
        if self.layers is not None:
            unknown = [name for name in self.layers if name not in LAYERS]
            if unknown:
                raise BadRequest(f"layers: unknown layer(s) {', '.join(unknown)}; known: {', '.join(LAYERS)}")

    def key(self) -> tuple:
        """The options as a hashable value (the links as sorted pairs), for cache keys."""
        return (self.layers, self.color_by, self.on, self.title, self.rings_m, tuple(sorted(self.links.items())))


def layer_names(options: MapOptions) -> tuple[str, ...]:
    """The layers to draw, in drawing order; the offline basemap is always among them."""
    wanted = set(options.layers if options.layers is not None else LAYERS) | set(ALWAYS)
    return tuple(name for name in LAYERS if name in wanted)


@dataclass(frozen=True)
class MapRequest:
    """A parsed map request: what to show, how it looks, the still graphic's size (None: default), whether embedded."""

    selection: Selection
    options: MapOptions
    size: Size | None
    embed: bool


def map_request(args: Mapping[str, str], *, focus: bool, image: bool) -> MapRequest:
    """Validate a map's query parameters (as strings); BadRequest names the parameter at fault."""
    allowed = LOOK_PARAMETERS + (FOCUS_PARAMETERS if focus else SELECTION_PARAMETERS)
    allowed += IMAGE_PARAMETERS if image else ()
    params.check_known(args, allowed)
    selection = Selection(
        bbox=params.bbox(args["bbox"]) if "bbox" in args else None,
        interval=params.interval(args["datetime"]) if "datetime" in args else None,
        groups=params.values("group", args.get("group")),
        event_types=params.values("event_type", args.get("event_type")))
    options = MapOptions(
        layers=params.values("layers", args["layers"]) if "layers" in args else None,
        color_by=args.get("color_by", "group"), on=params.instant("date", args["date"]) if "date" in args else None,
        title=_title(args.get("title")), rings_m=_rings(args["rings"]) if "rings" in args else DEFAULT_RINGS_M)
    return MapRequest(selection, options, _size(args) if image else None, _flag("embed", args.get("embed")))


def _title(text: str | None) -> str | None:
    if text is not None and not 0 < len(text.strip()) <= MAX_TITLE:
        raise BadRequest(f"title: give 1 to {MAX_TITLE} characters")
    return text.strip() if text else None


def _rings(text: str) -> tuple[float, ...]:
    values = [params.number("rings", v) for v in params.values("rings", text)]
    if len(values) > MAX_RINGS or any(not 0 < v <= MAX_RING_KM for v in values):
        raise BadRequest(f"rings: give 1 to {MAX_RINGS} distances in km, each above 0 and at most {MAX_RING_KM:g}")
    return tuple(sorted(v * 1000 for v in values))


def _flag(name: str, text: str | None) -> bool:
    if text is None:
        return False
    if text.lower() not in ("0", "1", "true", "false"):
        raise BadRequest(f"{name}: use 1 or 0")
    return text.lower() in ("1", "true")


def _size(args: Mapping[str, str]) -> Size:
    width = params.integer("width", args.get("width"), 0, 1, None) or None
    height = params.integer("height", args.get("height"), 0, 1, None) or None
    dpi = params.integer("dpi", args.get("dpi"), 0, 1, None) or None
    return Size.parse(width, height, dpi, args.get("preset"))


def public_links(base: str | None, incident_id: str | None, args: Mapping[str, str]) -> dict[str, str]:
    """The links a map made outside a request names (`geomap map`): its page at the public URL
    `base` (GEOMAP_PUBLIC_URL), with the map's own parameters; none without a public URL.

    >>> public_links("https://geomap.example", "k1", {"rings": "5", "dpi": "300"})
    {'page': 'https://geomap.example/maps/incidents/k1?rings=5'}
    """
    if not base:
        return {}
    path = f"/maps/incidents/{quote(incident_id, safe='')}" if incident_id else "/maps"
    query = urlencode({k: v for k, v in args.items() if k not in (*IMAGE_PARAMETERS, "embed")})
    return {"page": f"{base}{path}" + (f"?{query}" if query else "")}


def image_size(args: Mapping[str, str]) -> Size:
    """A still graphic's size from query parameters (width, height, dpi, preset), as maps parse it."""
    return _size(args)
