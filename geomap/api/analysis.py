"""Analysis endpoints: distance, nearby, zones at a point and date, overlaps, context report.
Thin views over geomap.inquiry; JSON by default, HTML for people."""
from __future__ import annotations

from pathlib import Path

import msgspec
from flask import Blueprint, Response, current_app, render_template, request, url_for

from geomap import inquiry
from geomap.analysis import markdown, wording
from geomap.analysis.bottomline import reported_text
from geomap.analysis.geodesy import Location
from geomap.analysis.report import DEFAULT_RADII_M, DEFAULT_WINDOWS_DAYS
from geomap.analysis.serialise import to_data
from geomap.api import analysis_formats, engine, params, pdf
from geomap.api.formats import html, json_response, negotiate
from geomap.vocabulary import MAX_DISTANCE_M, MAX_PRECISION_M

blueprint = Blueprint("analysis", __name__)


def _respond(data, title: str, rows=None, name: str = "analysis") -> Response:
    """The answer as JSON (default), HTML, or, given its `rows` (a function making them, see
    geomap.api.analysis_formats), GeoJSON or CSV."""
    fmt = negotiate(analysis_formats.FORMATS if rows else ("json", "html"))
    fmt = "geojson" if request.args.get("f") == "geojson" else fmt
    if fmt in ("geojson", "csv"):
        query = {k: v for k, v in data.items() if not isinstance(v, (list, dict))}
        return analysis_formats.respond(fmt, rows(), query, name)
    body = to_data(data)
    if fmt == "html":
        return html("analysis.html", title=title, data=body,
                    text=msgspec.json.format(msgspec.json.encode(body), indent=2).decode())
    return json_response(body)


REFERENCE = "incidents/ID, sites/ID, zones/ID or lon,lat[,precision_m]"
POINT = "incidents/ID, sites/ID or lon,lat[,precision_m] (a zone has no single point)"


def _required(name: str, allows: str) -> str:
    value = request.args.get(name)
    if not value:
        raise params.parameter_error(name, f"required: {allows}")
    return value


def _reference(name: str, allows: str = REFERENCE) -> str:
    """A feature reference or point, its form checked before any query (the feature's existence
    is checked by the query: 404)."""
    text = _required(name, allows)
    if params.parsed(name, inquiry.reference_kind, text) == "zone" and allows == POINT:
        raise params.parameter_error(name, f"give {POINT}")
    return text


@blueprint.get("/analysis/distance")
def distance() -> Response:
    """GET /analysis/distance: the distance and bearing between two features or points."""
    params.check_known(request.args, ("f", "from", "to", "within"))
    a, b = _reference("from"), _reference("to")
    radius = request.args.get("within")
    radius = None if radius is None else params.bounded("within", radius, 0, MAX_DISTANCE_M, " metres")
    result = inquiry.distance(engine(), a, b, radius)
    data = {"from": a, "to": b, "distance": result.distance, "bearing": result.bearing,
            "basis": result.basis, "constraints": result.constraints, "within": result.within,
            "derived": result.derived}
    return _respond(data, f"Distance from {a} to {b}",
                    lambda: [analysis_formats.Row(None, analysis_formats.flat(to_data(data)))], "distance")


@blueprint.get("/analysis/nearby")
def nearby() -> Response:
    """GET /analysis/nearby: incidents within `radius` metres of a feature or point, nearest first."""
    allowed = ("f", "near", "radius", "datetime", "event_type", "group", "limit")
    params.check_known(request.args, allowed)
    origin = _reference("near", POINT)
    radius = request.args.get("radius")
    if radius is None:
        raise params.parameter_error("radius", f"required: metres, from 0 to {params.MAX_NEAR_RADIUS_M}")
    radius = params.bounded("radius", radius, 0, params.MAX_NEAR_RADIUS_M, " metres")
    limit = params.integer("limit", request.args.get("limit"), params.MAX_LIMIT, 1, params.MAX_LIMIT)
    start, end = params.interval(request.args["datetime"]) if "datetime" in request.args else (None, None)
    found = inquiry.nearby(engine(), origin, radius, date_from=start, date_to=end,
                           event_types=params.values("event_type", request.args.get("event_type")),
                           group_ids=params.values("group", request.args.get("group")))
    return _respond({"near": origin, "radius_m": radius, "number_matched": len(found), "incidents": found[:limit]},
                    f"Incidents near {origin}", lambda: analysis_formats.nearby_rows(found[:limit]), "nearby")


@blueprint.get("/analysis/zones-at")
def zones_at() -> Response:
    """GET /analysis/zones-at: the zones at a point on a date, and each group's nearest zone."""
    params.check_known(request.args, ("f", "lon", "lat", "precision_m", "date"))
    lon = params.bounded("lon", _required("lon", "a longitude in decimal degrees"), -180, 180)
    lat = params.bounded("lat", _required("lat", "a latitude in decimal degrees"), -90, 90)
    precision = params.bounded("precision_m", request.args.get("precision_m", "0"), 0, MAX_PRECISION_M, " metres")
    on = params.instant("date", _required("date", "a date, e.g. 2019-12-27"))
    relations, nearest = inquiry.zones_at(engine(), Location(lon, lat, precision), on)
    return _respond({"lon": lon, "lat": lat, "date": on, "zones": relations, "nearest_by_group": nearest},
                    f"Zones at {lon}, {lat} on {on}", lambda: analysis_formats.zone_rows(relations, nearest), "zones-at")


@blueprint.get("/analysis/overlaps")
def overlaps() -> Response:
    """GET /analysis/overlaps: the zones of different groups that overlap on a date."""
    params.check_known(request.args, ("f", "date"))
    on = params.instant("date", _required("date", "a date, e.g. 2019-12-27"))
    found = inquiry.zone_overlaps(engine(), on)
    return _respond({"date": on, "overlaps": found}, f"Zone overlaps on {on}",
                    lambda: analysis_formats.overlap_rows(found), "overlaps")


CONTEXT_FORMATS = ("json", "html", "md", "pdf")


@blueprint.get("/collections/incidents/items/<fid>/context")
def context(fid: str) -> Response:
    """GET /collections/incidents/items/{id}/context: the incident's context report, as JSON,
    HTML, Markdown or PDF (the HTML view printed by headless Chromium)."""
    params.check_known(request.args, ("f", "radius", "window"))
    fmt = negotiate(CONTEXT_FORMATS)
    # Each value parsed as a lone radius is on the other routes, so it is refused in the same words.
    radii = tuple(params.bounded("radius", r, 0, inquiry.MAX_REPORT_RADIUS_M, " metres", above=True)
                  for r in request.args["radius"].split(",")) if "radius" in request.args else DEFAULT_RADII_M
    windows = tuple(params.integer("window", w, 0, 0, inquiry.MAX_REPORT_WINDOW_DAYS)
                    for w in request.args["window"].split(",")) if "window" in request.args else DEFAULT_WINDOWS_DAYS
    report = inquiry.context_report(engine(), fid, radii, windows)
    if fmt == "md":
        return Response(markdown.render(report), mimetype="text/markdown")
    if fmt in ("html", "pdf"):
        page = render_template("context.html", report=report, printing=fmt == "pdf", w=wording,
                               casualties=markdown.casualties, reported_text=reported_text,
                               pdf_link=url_for("analysis.context", fid=fid, **{**request.args, "f": "pdf"}))
        if fmt == "html":
            return Response(page, mimetype="text/html")
        body = pdf.print_pdf(page, Path(current_app.static_folder))
        return Response(body, mimetype="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{_filename(fid)}-context.pdf"'})
    return json_response(to_data(report))


def _filename(fid: str) -> str:
    """The incident id as a safe file name (ids are slugs, but a header must never carry a quote)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in fid)
