"""Maps over HTTP: interactive pages, embeddable maps, PNG/SVG graphics and offline assets.

    GET /maps/incidents/{id}[.png|.svg|.pdf]   the focus map of one incident
    GET /maps[.png|.svg|.pdf]?bbox=..&datetime=..&group=..&event_type=..&layers=..   any selection
    GET /maps/assets/{name}[+{name}...]   Leaflet, plugins and the map runtime (never a CDN), or a bundle of them

Thin views: the parameters are parsed by `geomap.maps.map_request` (which `geomap map` uses too;
every error names the parameter, 400), the scenes come from `geomap.maps`, the HTML pages from
`geomap.api.map_pages`.
"""
from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, stream_with_context, url_for

from geomap import maps
from geomap.api import engine, params
from geomap.api.map_openapi import MEDIA
from geomap.api.map_pages import FAILED, FAILED_PAGE_REST, head, page, selection_rest
from geomap.errors import NotFound
from geomap.layers import assets
from geomap.maps.request import IMAGE_PARAMETERS

log = logging.getLogger(__name__)
blueprint = Blueprint("maps", __name__)


@blueprint.get("/maps/incidents/<incident_id>")
def incident_map(incident_id: str) -> Response:
    """GET /maps/incidents/{id}: the interactive map page focused on one incident."""
    req = maps.map_request(request.args, focus=True, image=False)
    scene = maps.focus_scene(engine(), incident_id, _with_links(req.options, "maps.incident_graphic",
                                                                 "maps.incident_map", incident_id=incident_id))
    return Response(page(scene, req.embed), mimetype="text/html")


@blueprint.get("/maps/incidents/<incident_id>.<any(png, svg, pdf):fmt>")
def incident_graphic(incident_id: str, fmt: str) -> Response:
    """GET /maps/incidents/{id}.png|svg|pdf: the map of one incident as a still graphic."""
    req = maps.map_request(request.args, focus=True, image=True)
    scene = maps.focus_scene(engine(), incident_id, _with_links(req.options, "maps.incident_graphic",
                                                                 "maps.incident_map", incident_id=incident_id))
    return Response(maps.graphic(scene, fmt, req.size), mimetype=MEDIA[fmt])


@blueprint.get("/maps")
def selection_map() -> Response:
    """Streamed: the page's head (its title and every asset link) goes out before the incidents
    are counted, so the browser fetches and compiles Leaflet, the runtime and the basemap while
    the server works; then, when the incidents are to be counted per area, the map without them,
    which the browser draws while the server counts; then the rest. Every check that can refuse
    the request runs first; a failure after the head closes the page with an alert (the 200 has
    gone out) and is logged."""
    req = maps.map_request(request.args, focus=False, image=False)
    options = _with_links(req.options, "maps.selection_graphic", "maps.selection_map")
    maps.check_selection(options)
    first = head(maps.selection_title(engine(), req.selection, options), req.embed)

    def parts():
        yield first
        body_sent = False
        try:
            for part in selection_rest(maps.selection_steps(engine(), req.selection, options), req.embed):
                yield part
                body_sent = True
        except Exception:  # the status has gone out with the head: say so in the page instead
            log.exception("map of %s failed after its head was sent", request.full_path)
            yield FAILED if body_sent else FAILED_PAGE_REST

    return Response(stream_with_context(parts()), mimetype="text/html")


@blueprint.get("/maps.<any(png, svg, pdf):fmt>")
def selection_graphic(fmt: str) -> Response:
    """GET /maps.png|svg|pdf: the map of a selection of incidents as a still graphic."""
    req = maps.map_request(request.args, focus=False, image=True)
    scene = maps.selection_scene(engine(), req.selection, _with_links(req.options, "maps.selection_graphic",
                                                                      "maps.selection_map"))
    return Response(maps.graphic(scene, fmt, req.size), mimetype=MEDIA[fmt])


@blueprint.get("/maps/assets/<name>")
def asset(name: str) -> Response:
    """GET /maps/assets/{name}: a script or style the map pages use (names joined by `+`: one
    bundle of them, as pages link them), cached for a year."""
    params.check_known(request.args, ())
    item = assets.by_name(name)
    if item is None:
        raise NotFound(f"no map asset named {name!r}")
    response = Response(item.text, mimetype=item.media_type)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"  # names carry a content hash
    return response


def public_link(path: str) -> str:
    """A path of this app at the public URL (GEOMAP_PUBLIC_URL), or the path alone when none is set:
    never the address the request arrived on (DESIGN.md decision 12)."""
    base = current_app.extensions["geomap.settings"].public_url
    return base + path.removeprefix(request.script_root) if base else path


def _with_links(options: maps.MapOptions, graphic: str, page: str, **ids: str) -> maps.MapOptions:
    """The options with the map's own links: its page, graphics and (selections) drill-down."""
    shown = {k: v for k, v in request.args.items() if k not in ("embed", *IMAGE_PARAMETERS)}
    drill = {k: v for k, v in shown.items() if k != "bbox"}
    links = {"page": public_link(url_for(page, **ids, **shown)),
             "png": url_for(graphic, fmt="png", **ids, **shown), "svg": url_for(graphic, fmt="svg", **ids, **shown),
             "pdf": url_for(graphic, fmt="pdf", **ids, **shown),
             "embed": public_link(url_for(page, **ids, **shown, embed=1))}
    if not ids:
        links["drill"] = url_for("maps.selection_map") + "?" + urlencode(drill)
    return maps.MapOptions(**{**vars(options), "links": links})
