"""Maps over HTTP: interactive pages, embeddable maps, PNG/SVG graphics and offline assets.

    GET /maps/incidents/{id}[.png|.svg]   the focus map of one incident
    GET /maps[.png|.svg]?bbox=..&datetime=..&group=..&event_type=..&layers=..   any selection
    GET /maps/assets/{name}               Leaflet, plugins and the map runtime (never a CDN)

`map_request` parses and validates the query parameters without Flask, so that `geomap map`
accepts exactly the same values; every error names the parameter and what it allows (400).
"""
from __future__ import annotations

import logging

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request, stream_with_context, url_for

from geomap import maps
from geomap.api import engine, params
from geomap.errors import BadRequest, NotFound
from geomap.layers import assets
from geomap.layers.graphic import Size
from geomap.layers.scene import Scene
from geomap.layers.webmap import common_assets

log = logging.getLogger(__name__)
blueprint = Blueprint("maps", __name__)
SELECTION_PARAMETERS = ("bbox", "datetime", "group", "event_type")
LOOK_PARAMETERS = ("layers", "date", "color_by", "title", "embed")
FOCUS_PARAMETERS = ("rings",)
IMAGE_PARAMETERS = ("width", "height", "dpi", "preset")
MAX_TITLE = 200
MAX_RINGS, MAX_RING_KM = 8, 500.0
MEDIA = {"png": "image/png", "svg": "image/svg+xml"}


@dataclass(frozen=True)
class MapRequest:
    selection: maps.Selection
    options: maps.MapOptions
    size: Size | None
    embed: bool


def map_request(args: Mapping[str, str], *, focus: bool, image: bool) -> MapRequest:
    """Validate a map's query parameters (as strings); BadRequest names the parameter at fault."""
    allowed = LOOK_PARAMETERS + (FOCUS_PARAMETERS if focus else SELECTION_PARAMETERS)
    allowed += IMAGE_PARAMETERS if image else ()
    params.check_known(args, allowed)
    selection = maps.Selection(
        bbox=params.bbox(args["bbox"]) if "bbox" in args else None,
        interval=params.interval(args["datetime"]) if "datetime" in args else None,
        groups=params.values("group", args.get("group")), event_types=params.values("event_type", args.get("event_type")))
    options = maps.MapOptions(
        layers=params.values("layers", args["layers"]) if "layers" in args else None,
        color_by=args.get("color_by", "group"), on=params.instant("date", args["date"]) if "date" in args else None,
        title=_title(args.get("title")), rings_m=_rings(args["rings"]) if "rings" in args else maps.DEFAULT_RINGS_M)
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


# -- views ----------------------------------------------------------------------------------

@blueprint.get("/maps/incidents/<incident_id>")
def incident_map(incident_id: str) -> Response:
    req = map_request(request.args, focus=True, image=False)
    scene = maps.focus_scene(engine(), incident_id, _with_links(req.options, "maps.incident_graphic",
                                                                 "maps.incident_map", incident_id=incident_id))
    return _page(scene, req.embed)


@blueprint.get("/maps/incidents/<incident_id>.<any(png, svg):fmt>")
def incident_graphic(incident_id: str, fmt: str) -> Response:
    req = map_request(request.args, focus=True, image=True)
    scene = maps.focus_scene(engine(), incident_id, _with_links(req.options, "maps.incident_graphic",
                                                                 "maps.incident_map", incident_id=incident_id))
    return Response(maps.graphic(scene, fmt, req.size), mimetype=MEDIA[fmt])


FAILED_PAGE_REST = ('</head>\n<body>\n<p role="alert">The map could not be drawn: the server failed while '
                    'it gathered the selection. The failure has been logged; try again.</p>\n</body>\n</html>\n')


@blueprint.get("/maps")
def selection_map() -> Response:
    """Streamed: the page's head (its title and every asset link) goes out before the incidents
    are counted, so the browser fetches and compiles Leaflet, the runtime and the basemap while
    the server works; the map follows. Every check that can refuse the request runs first; a failure after the
    head closes the page with an alert (the 200 has gone out) and is logged."""
    req = map_request(request.args, focus=False, image=False)
    options = _with_links(req.options, "maps.selection_graphic", "maps.selection_map")
    maps.check_selection(options)
    head = _head(maps.selection_title(engine(), req.selection, options), req.embed)

    def parts():
        yield head
        try:
            yield _page_rest(maps.selection_scene(engine(), req.selection, options), req.embed, cached=True)
        except Exception:  # the status has gone out with the head: say so in the page instead
            log.exception("map of %s failed after its head was sent", request.full_path)
            yield FAILED_PAGE_REST

    return Response(stream_with_context(parts()), mimetype="text/html")


@blueprint.get("/maps.<any(png, svg):fmt>")
def selection_graphic(fmt: str) -> Response:
    req = map_request(request.args, focus=False, image=True)
    scene = maps.selection_scene(engine(), req.selection, _with_links(req.options, "maps.selection_graphic",
                                                                      "maps.selection_map"))
    return Response(maps.graphic(scene, fmt, req.size), mimetype=MEDIA[fmt])


@blueprint.get("/maps/assets/<name>")
def asset(name: str) -> Response:
    params.check_known(request.args, ())
    item = assets.by_name(name)
    if item is None:
        raise NotFound(f"no map asset named {name!r}")
    response = Response(item.text, mimetype=item.media_type)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"  # names carry a content hash
    return response


def _with_links(options: maps.MapOptions, graphic: str, page: str, **ids: str) -> maps.MapOptions:
    """The options with the map's own links: its page, graphics and (selections) drill-down."""
    shown = {k: v for k, v in request.args.items() if k not in ("embed", *IMAGE_PARAMETERS)}
    drill = {k: v for k, v in shown.items() if k != "bbox"}
    links = {"page": url_for(page, _external=True, **ids, **shown),
             "png": url_for(graphic, fmt="png", **ids, **shown), "svg": url_for(graphic, fmt="svg", **ids, **shown),
             "embed": url_for(page, _external=True, **ids, **shown, embed=1)}
    if not ids:
        links["drill"] = url_for("maps.selection_map") + "?" + urlencode(drill)
    return maps.MapOptions(**{**vars(options), "links": links})


def _assets_base() -> str:
    return url_for("maps.asset", name="x").rsplit("/", 1)[0]


def _head(title: str, embed: bool) -> str:
    """A map page up to the end of its head's assets: what every map links (geomap.layers.webmap.
    common_assets), known before the map is computed."""
    return render_template("maps/head.html", title=title, embed=embed,
                           assets=assets.tags(common_assets(), _assets_base()))


def _page(scene: Scene, embed: bool) -> Response:
    """The page of a scene, in one piece."""
    return Response(_head(scene.title, embed) + _page_rest(scene, embed), mimetype="text/html")


def _page_rest(scene: Scene, embed: bool, cached: bool = False) -> str:
    """The page after `_head`: the map's own assets and styles, the map, the page around it; a
    `cached` scene (one from geomap.maps.SCENES) renders once."""
    assets_base = _assets_base()
    key = (id(scene), embed, assets_base)
    if cached and (hit := PAGES.get(key)) is not None:
        return hit[1]
    sent = frozenset(item.name for _, item in common_assets())
    rendered = maps.interactive(scene, assets=assets_base, embed=embed, sent=sent)
    template = "maps/embed.html" if embed else "maps/page.html"
    body = render_template(template, scene=scene, map=rendered, sources=scene.sources())
    if cached:
        PAGES.put(key, (scene, body))  # the entry keeps its scene alive, so its id() is not reused
    return body


PAGES = maps.LruCache(16)


# -- OpenAPI ------------------------------------------------------------------------------------

PARAMETER_DOCS = {
    "bbox": "minlon,minlat,maxlon,maxlat in WGS84 (as for items)",
    "datetime": "RFC 3339 date or interval (a/b, ../b, a/..), as for items",
    "group": "Attributed group ids, comma-separated", "event_type": "ACLED event types, comma-separated",
    "layers": "Layers to draw, comma-separated (the offline basemap is always drawn)",
    "date": "The time slider's starting date (YYYY-MM-DD): zones in force on it are shown",
    "color_by": "Colour incidents by group or event_type", "title": "Title of the map (1 to 200 characters)",
    "embed": "1: the bare map for an iframe", "rings": "Ring distances in km around the focus, comma-separated",
    "width": "Width in pixels (300 to 10000)", "height": "Height in pixels (300 to 10000)",
    "dpi": "Resolution, 50 to 300", "preset": "a4, a4-portrait, social or social-square",
}


def openapi_paths() -> dict:
    """The /maps routes for the OpenAPI document (geomap.api.openapi merges them)."""
    def get(summary: str, names: tuple[str, ...], media: str, path_id: bool = False) -> dict:
        parameters = ([{"name": "incidentId", "in": "path", "required": True, "description": "Incident id",
                        "schema": {"type": "string"}}] if path_id else [])
        parameters += [{"name": n, "in": "query", "required": False, "description": PARAMETER_DOCS[n],
                        "schema": {"type": "string"}} for n in names if n != "embed" or media == "text/html"]
        problem = {"description": "An RFC 9457 problem", "content": {"application/problem+json": {}}}
        return {"get": {"summary": summary, "parameters": parameters, "responses": {
            "200": {"description": summary, "content": {media: {}}}, "400": problem, "404": problem}}}

    selection, focus = SELECTION_PARAMETERS + LOOK_PARAMETERS, FOCUS_PARAMETERS + LOOK_PARAMETERS
    paths = {"/maps": get("Interactive map of a selection", selection, "text/html"),
             "/maps/incidents/{incidentId}": get("Interactive map of an incident in its context", focus,
                                                 "text/html", True),
             "/maps/assets/{name}": {"get": {"summary": "Offline map asset (Leaflet, plugins, runtime)", "parameters": [
                 {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                 "responses": {"200": {"description": "The asset"}, "404": {"description": "No such asset"}}}}}
    for fmt, media in MEDIA.items():
        paths[f"/maps.{fmt}"] = get(f"{fmt.upper()} graphic of a selection", selection + IMAGE_PARAMETERS, media)
        paths[f"/maps/incidents/{{incidentId}}.{fmt}"] = get(f"{fmt.upper()} graphic of an incident's map",
                                                              focus + IMAGE_PARAMETERS, media, True)
    return paths
