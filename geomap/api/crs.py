"""The `crs` and `bbox-crs` parameters (OGC API - Features Part 2) and the Content-Crs header.

The CRSs offered and their rules are `geomap.model.crs`; PostGIS reprojects (`geomap.db.crs`).
`crs` applies to the GeoJSON forms (a page, a feature, a download as GeoJSON or a text
sequence); HTML (whose map is in CRS84), CSV, KML, GeoPackage and FlatGeobuf are written in
CRS84, and refuse another `crs`.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from geomap.errors import BadRequest
from geomap.io.params import number
from geomap.model import crs as crs_model
from geomap.model.crs import CRS84, Crs

if TYPE_CHECKING:
    from flask import Response

GEOJSON_FORMATS = ("json", "geojson", "geojsonseq")


def response_crs(args: Mapping[str, str]) -> Crs | None:
    """The CRS of the response's coordinates; None for CRS84, the stored one."""
    if "crs" not in args:
        return None
    chosen = crs_model.parse("crs", args["crs"])
    return None if chosen.is_crs84 else chosen


def bbox_fields(args: Mapping[str, str]) -> dict | None:
    """`bbox` in a `bbox-crs` other than CRS84, as FeatureQuery fields (bbox in that CRS, bbox_crs);
    None when the bbox is in CRS84 (parsed as before, by geomap.io.params.bbox)."""
    if "bbox-crs" not in args:
        return None
    chosen = crs_model.parse("bbox-crs", args["bbox-crs"])
    if chosen.is_crs84:
        return None
    if "bbox" not in args:
        raise BadRequest("bbox-crs: names the CRS of bbox; give bbox too, or drop bbox-crs")
    values = tuple(number("bbox", part) for part in args["bbox"].split(","))
    return {"bbox": crs_model.check_bbox("bbox", values, chosen), "bbox_crs": chosen}


def check_format(chosen: Crs | None, fmt: str) -> None:
    """A 400 naming `crs` when a CRS other than CRS84 is asked of a format written in CRS84 only."""
    if chosen is not None and fmt not in GEOJSON_FORMATS:
        raise BadRequest(f"crs: f={fmt} is written in CRS84 only; ask for f=geojson or f=geojsonseq in "
                         f"{chosen.uri}, or drop crs")


def header(response: Response, chosen: Crs | None) -> Response:
    """The Content-Crs header: the CRS of the response's coordinates, in angle brackets."""
    response.headers["Content-Crs"] = f"<{chosen.uri if chosen else CRS84}>"
    return response
