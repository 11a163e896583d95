"""The wire vocabulary: landing page, conformance, collection documents, links, queryables.

Plain functions returning JSON-ready dicts; the views pass in the base URL. Collection titles,
descriptions and queryable types come from `geomap.api.catalogue`.
"""
from __future__ import annotations

from urllib.parse import quote_plus

from geomap.api import catalogue, schemas
from geomap.api.params import CRS84
from geomap.db.extents import Extent
from geomap.model import crs
from geomap.model.query import Collection

TITLE = "geomap"
DESCRIPTION = ("Conflict incidents, reference sites and armed groups' control zones, with their uncertainty "
               "and sources. OGC API - Features with CQL2 filters, and proximity analysis.")
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
)
MEDIA = {
    "json": "application/geo+json", "geojson": "application/geo+json", "html": "text/html",
    "csv": "text/csv", "kml": "application/vnd.google-earth.kml+xml", "gpkg": "application/geopackage+sqlite3",
}


def link(href: str, rel: str, media_type: str, title: str) -> dict:
    """A link object of OGC API - Features (href, rel, type, title)."""
    return {"href": href, "rel": rel, "type": media_type, "title": title}


def with_query(url: str, params: dict[str, str], quoted: dict | None = None) -> str:
    """`url` with `params` as its query string (none when `params` is empty), as `urlencode`
    writes it; `quoted` keeps each pair's text for the next call (a page's links repeat them)."""
    if not params:
        return url
    quoted = {} if quoted is None else quoted
    parts = []
    for pair in params.items():
        text = quoted.get(pair)
        if text is None:  # as urlencode((pair,)) writes a pair of strings, without its checks per call
            text = quoted[pair] = f"{quote_plus(str(pair[0]))}={quote_plus(str(pair[1]))}"
        parts.append(text)
    return f"{url}?{'&'.join(parts)}"


def landing(base: str) -> dict:
    """The landing page document: the links to the API, its conformance and the collections."""
    return {"title": TITLE, "description": DESCRIPTION, "links": [
        link(f"{base}/", "self", "application/json", "This document"),
        link(f"{base}/?f=html", "alternate", "text/html", "This document as HTML"),
        link(f"{base}/api", "service-desc", "application/vnd.oai.openapi+json;version=3.0", "The OpenAPI definition"),
        link(f"{base}/api.html", "service-doc", "text/html", "The API documentation"),
        link(f"{base}/conformance", "conformance", "application/json", "Conformance classes"),
        link(f"{base}/collections", "data", "application/json", "The collections"),
    ]}


def conformance() -> dict:
    """The conformance document: the OGC conformance classes this service implements."""
    return {"conformsTo": list(CONFORMANCE)}


def collection(c: Collection, base: str, extent: Extent | None = None) -> dict:
    """The document of one collection: its links, and its extent when known."""
    url = f"{base}/collections/{c.id}"
    doc = {"id": c.id, "title": catalogue.title(c), "description": catalogue.description(c), "itemType": "feature",
           "crs": list(crs.URIS), "storageCrs": CRS84, "links": [
               link(url, "self", "application/json", "This collection"),
               link(f"{url}/items", "items", "application/geo+json", "The features"),
               link(f"{url}/items?f=html", "items", "text/html", "The features as HTML"),
               link(f"{url}/items?f=csv", "items", "text/csv", "The features as CSV"),
               link(f"{url}/items?f=kml", "items", "application/vnd.google-earth.kml+xml", "The features as KML"),
               link(f"{url}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                    "application/schema+json", "The queryables"),
               link(f"{url}/sortables", "http://www.opengis.net/def/rel/ogc/1.0/sortables",
                    "application/schema+json", "The sortables"),
               link(f"{url}/schema", "http://www.opengis.net/def/rel/ogc/1.0/schema",
                    "application/schema+json", "The schema of the features"),
               # RFC 8288 compares relation types case-insensitively; GDAL's OAPIF driver looks for this spelling
               link(f"{url}/feature-schema", "describedBy", "application/schema+json",
                    "The schema of a feature as GeoJSON"),
               *download_links(c, url),
           ]}
    if extent:
        doc["extent"] = extent_document(extent)
    return doc


DOWNLOADS = {"geojson": ("application/geo+json", "GeoJSON"), "geojsonseq": ("application/geo+json-seq",
              "GeoJSON text sequence"), "csv": ("text/csv", "CSV"), "gpkg": ("application/geopackage+sqlite3",
              "GeoPackage"), "fgb": ("application/flatgeobuf", "FlatGeobuf")}


def download_links(c: Collection, url: str) -> list[dict]:
    """The whole collection as a file in each download format (rel `enclosure`, as OGC API -
    Features Part 1 recommends for bulk downloads; geomap.api.downloads)."""
    return [link(f"{url}/download?f={fmt}", "enclosure", media, f"All {catalogue.title(c).lower()} as {name}")
            for fmt, (media, name) in DOWNLOADS.items()]


def extent_document(extent: Extent) -> dict:
    """An extent as OGC API - Features writes it: the bbox in CRS84 and the temporal interval."""
    doc = {"spatial": {"bbox": [list(extent.bbox)] if extent.bbox else [], "crs": CRS84}}
    if extent.interval is not None:
        doc["temporal"] = {"interval": [[_instant(day) for day in extent.interval]]}
    return doc


def _instant(day) -> str | None:
    return f"{day.isoformat()}T00:00:00Z" if day else None


def collections(items: list[dict], base: str) -> dict:
    """The collections document over the documents of each collection."""
    return {"collections": items, "links": [
        link(f"{base}/collections", "self", "application/json", "The collections"),
        link(f"{base}/collections?f=html", "alternate", "text/html", "The collections as HTML"),
    ]}


def queryables(c: Collection, base: str) -> dict:
    """The collection's queryables as a JSON Schema (Part 3), geometry included, typed from the model."""
    return schemas.queryables(c, base)


def page_links(url: str, args: dict[str, str], limit: int, offset: int, cursor: str | None) -> list[dict]:
    """self/alternate/next/prev, each keeping every parameter (including f). `next` carries the
    keyset `cursor` of the next page (when there is one) instead of an offset; `prev` an offset."""
    fmt, quoted = args.get("f", "json"), {}
    links = [link(with_query(url, args, quoted), "self", MEDIA.get(fmt, "application/geo+json"), "This page")]
    for other in ("json", "html", "csv", "kml"):
        if other != fmt:
            links.append(link(with_query(url, {**args, "f": other}, quoted), "alternate", MEDIA[other], f"This page as {other}"))
    unpaged = {k: v for k, v in args.items() if k not in ("offset", "cursor")}
    if cursor is not None:
        links.append(link(with_query(url, {**unpaged, "cursor": cursor}, quoted), "next", MEDIA.get(fmt, ""), "Next page"))
    if offset > 0:
        before = max(0, offset - limit)
        links.append(link(with_query(url, {**unpaged, **({"offset": str(before)} if before else {})}, quoted), "prev",
                          MEDIA.get(fmt, ""), "Previous page"))
    return links
