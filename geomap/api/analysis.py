"""Analysis endpoints: distance, nearby, zones at a point and date, overlaps, context report.
Thin views over geomap.inquiry; JSON by default, HTML for people."""
from __future__ import annotations


import msgspec
from flask import Blueprint, Response, request

from geomap import inquiry
from geomap.analysis.report import DEFAULT_RADII_M, DEFAULT_WINDOWS_DAYS
from geomap.analysis.serialise import to_data
from geomap.api import engine, params
from geomap.api.formats import html, json_response, negotiate
from geomap.errors import BadRequest

blueprint = Blueprint("analysis", __name__)


def _respond(data, title: str) -> Response:
    body = to_data(data)
    if negotiate() == "html":
        return html("analysis.html", title=title, data=body, 
                    text=msgspec.json.format(msgspec.json.encode(body), indent=2).decode())
    return json_response(body)


def _required(name: str) -> str:
    value = request.args.get(name)
    if not value:
        raise BadRequest(f"{name}: required")
    return value


@blueprint.get("/analysis/distance")
def distance() -> Response:
    params.check_known(request.args, ("f", "from", "to"))
    a, b = _required("from"), _required("to")
    result = inquiry.distance(engine(), a, b)
    return _respond({"from": a, "to": b, "distance": result.distance, "bearing": result.bearing},
                    f"Distance from {a} to {b}")


@blueprint.get("/analysis/nearby")
def nearby() -> Response:
    allowed = ("f", "near", "radius", "datetime", "event_type", "group", "limit")
    params.check_known(request.args, allowed)
    origin = _required("near")
    radius = params.number("radius", _required("radius"))
    if not 0 <= radius <= params.MAX_NEAR_RADIUS_M:
        raise BadRequest(f"radius: must be between 0 and {params.MAX_NEAR_RADIUS_M} metres; got {radius}")
    limit = params.integer("limit", request.args.get("limit"), params.MAX_LIMIT, 1, params.MAX_LIMIT)
    start, end = params.interval(request.args["datetime"]) if "datetime" in request.args else (None, None)
    found = inquiry.nearby(engine(), origin, radius, date_from=start, date_to=end,
                           event_types=params.values("event_type", request.args.get("event_type")),
                           group_ids=params.values("group", request.args.get("group")))
    return _respond({"near": origin, "radius_m": radius, "number_matched": len(found), "incidents": found[:limit]},
                    f"Incidents near {origin}")


@blueprint.get("/analysis/zones-at")
def zones_at() -> Response:
    params.check_known(request.args, ("f", "lon", "lat", "precision_m", "date"))
    lon, lat = params.number("lon", _required("lon")), params.number("lat", _required("lat"))
    precision = params.number("precision_m", request.args.get("precision_m", "0"))
    on = params.instant("date", _required("date"))
    relations, nearest = inquiry.zones_at(engine(), inquiry.parse_location(f"{lon},{lat},{precision}"), on)
    return _respond({"lon": lon, "lat": lat, "date": on, "zones": relations, "nearest_by_group": nearest},
                    f"Zones at {lon}, {lat} on {on}")


@blueprint.get("/analysis/overlaps")
def overlaps() -> Response:
    params.check_known(request.args, ("f", "date"))
    on = params.instant("date", _required("date"))
    return _respond({"date": on, "overlaps": inquiry.zone_overlaps(engine(), on)}, f"Zone overlaps on {on}")


@blueprint.get("/collections/incidents/items/<fid>/context")
def context(fid: str) -> Response:
    params.check_known(request.args, ("f", "radius", "window"))
    radii = tuple(params.number("radius", r) for r in request.args["radius"].split(",")) \
        if "radius" in request.args else DEFAULT_RADII_M
    windows = tuple(params.integer("window", w, 0, 0, inquiry.MAX_REPORT_WINDOW_DAYS) for w in request.args["window"].split(",")) \
        if "window" in request.args else DEFAULT_WINDOWS_DAYS
    report = inquiry.context_report(engine(), fid, radii, windows)
    if negotiate() == "html":
        return html("context.html", report=report)
    return json_response(to_data(report))
