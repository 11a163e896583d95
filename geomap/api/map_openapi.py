"""The /maps routes in the OpenAPI document (geomap.api.openapi merges them)."""
from __future__ import annotations

from geomap.maps.request import FOCUS_PARAMETERS, IMAGE_PARAMETERS, LOOK_PARAMETERS, SELECTION_PARAMETERS

MEDIA = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
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
    """The /maps routes for the OpenAPI document."""
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
             "/maps/assets/{name}": {"get": {"summary": "Offline map asset (Leaflet, plugins, runtime); names joined by + give one bundle",
                                             "parameters": [
                 {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                 "responses": {"200": {"description": "The asset"}, "404": {"description": "No such asset"}}}}}
    for fmt, media in MEDIA.items():
        paths[f"/maps.{fmt}"] = get(f"{fmt.upper()} graphic of a selection", selection + IMAGE_PARAMETERS, media)
        paths[f"/maps/incidents/{{incidentId}}.{fmt}"] = get(f"{fmt.upper()} graphic of an incident's map",
                                                              focus + IMAGE_PARAMETERS, media, True)
    return paths
