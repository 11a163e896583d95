"""Stories over HTTP: the chains of events that links between incidents make.

    GET /stories                          every story (JSON, or HTML with f=html / a browser's Accept)
    GET /stories/{id}                     the story map: one self-contained page (f=json: the story as data)
    GET /stories/{id}?embed=1             the same, for an iframe
    GET /stories/{id}.png|svg|pdf         the print strip: one numbered panel per step

A story's id is its first incident's id (`geomap.layers.story`). Thin views: the stories come
from `geomap.maps.stories`, the page from `geomap.layers.storymap`, the strip from
`geomap.layers.storystrip`; every bad parameter is a 400 naming it.
"""
from __future__ import annotations

from flask import Blueprint, Response, request, url_for

from geomap.api import engine, params
from geomap.api.formats import html, json_response, negotiate
from geomap.api.map_openapi import MEDIA, PARAMETER_DOCS
from geomap.api.maps import public_link
from geomap.errors import BadRequest
from geomap.layers.storymap import document
from geomap.layers.storystrip import render_strip
from geomap.maps import stories
from geomap.maps.request import IMAGE_PARAMETERS, image_size

blueprint = Blueprint("stories", __name__)
EMBED = ("0", "1", "true", "false")


@blueprint.get("/stories")
def story_list() -> Response:
    """GET /stories: every story, earliest first."""
    params.check_known(request.args, ("f",))
    found = stories.story_list(engine())
    items = [{"id": s.id, "title": s.title, "start": s.start.isoformat(), "end": s.end.isoformat(),
              "incidents": s.incidents, "links": _links(s.id)} for s in found]
    if negotiate() == "html":
        return html("stories.html", stories=items)
    return json_response({"stories": items, "links": [
        {"href": url_for("stories.story_list"), "rel": "self", "type": "application/json"},
        {"href": url_for("stories.story_list", f="html"), "rel": "alternate", "type": "text/html"}]})


@blueprint.get("/stories/<story_id>")
def story_page(story_id: str) -> Response:
    """GET /stories/{id}: the story map (HTML, self-contained), or the story as JSON with f=json."""
    params.check_known(request.args, ("f", "embed"))
    fmt = request.args.get("f", "html")
    if fmt not in ("html", "json"):
        raise BadRequest(f"f: must be html or json; got {fmt!r}")
    embed = request.args.get("embed", "0")
    if embed not in EMBED:
        raise BadRequest(f"embed: must be 1 or 0; got {embed!r}")
    story = stories.load_story(engine(), story_id, _links(story_id))
    if fmt == "json":
        return json_response(stories.as_json(story))
    return Response(document(story, embed=embed in ("1", "true")), mimetype="text/html")


@blueprint.get("/stories/<story_id>.<any(png, svg, pdf):fmt>")
def story_strip(story_id: str, fmt: str) -> Response:
    """GET /stories/{id}.png|svg|pdf: the story's print strip, one numbered panel per step."""
    params.check_known(request.args, ("width", "height", "dpi", "preset"))
    size = image_size(request.args)
    story = stories.load_story(engine(), story_id, _links(story_id))
    return Response(render_strip(story, fmt, size), mimetype=MEDIA[fmt])


def _links(story_id: str) -> dict[str, str]:
    return {"page": public_link(url_for("stories.story_page", story_id=story_id)),
            "embed": public_link(url_for("stories.story_page", story_id=story_id, embed=1)),
            "json": url_for("stories.story_page", story_id=story_id, f="json"),
            **{fmt: url_for("stories.story_strip", story_id=story_id, fmt=fmt) for fmt in ("png", "svg", "pdf")}}


def openapi_paths() -> dict:
    """The /stories routes for the OpenAPI document (geomap.api.openapi merges them)."""
    problem = {"description": "An RFC 9457 problem", "content": {"application/problem+json": {}}}
    story_id = {"name": "storyId", "in": "path", "required": True, "schema": {"type": "string"},
                "description": "The story's id: the id of its first incident"}

    def query(name: str, description: str) -> dict:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": {"type": "string"}}

    def get(summary: str, parameters: list, media: tuple[str, ...]) -> dict:
        return {"get": {"summary": summary, "parameters": parameters, "responses": {
            "200": {"description": summary, "content": {m: {} for m in media}}, "400": problem, "404": problem}}}

    paths = {"/stories": get("Every story (chain of linked events)", [query("f", "json or html")],
                             ("application/json", "text/html")),
             "/stories/{storyId}": get("The story map (self-contained HTML), or the story as JSON", [
                 story_id, query("f", "html (default) or json"), query("embed", "1: the compact page for an iframe")],
                 ("text/html", "application/json"))}
    for fmt, media in MEDIA.items():
        paths[f"/stories/{{storyId}}.{fmt}"] = get(f"{fmt.upper()} print strip of a story, one panel per step", [
            story_id, *(query(n, PARAMETER_DOCS[n]) for n in IMAGE_PARAMETERS)], (media,))
    return paths
