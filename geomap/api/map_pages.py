"""The HTML pages of maps: a head sent before the map is computed (title and every asset that
each map links), then the rest (the map's own assets, the map, the page around it).

A cached scene's page body is cached beside it (`geomap.maps.cache.PAGES`), so a repeated
request renders nothing.
"""
from __future__ import annotations

from collections.abc import Iterator

from flask import render_template, url_for

from geomap import maps
from geomap.layers import assets
from geomap.layers.scene import Scene
from geomap.layers.webmap import common_assets, common_bundles
from geomap.maps import cache

FAILED = ('<p role="alert">The map could not be drawn: the server failed while it gathered the selection. '
          'The failure has been logged; try again.</p>\n</body>\n</html>\n')
FAILED_PAGE_REST = '</head>\n<body>\n' + FAILED  # a failure before any of the page's body went out


def assets_base() -> str:
    """The URL prefix of the map assets, for pages that link their scripts and styles."""
    return url_for("maps.asset", name="x").rsplit("/", 1)[0]


def head(title: str, embed: bool) -> str:
    """A map page up to the end of its head's assets: what every map links (geomap.layers.webmap.
    common_assets, in its two bundles), known before the map is computed."""
    return render_template("maps/head.html", title=title, embed=embed,
                           assets=assets.tags(common_bundles(), assets_base()))


def page(scene: Scene, embed: bool) -> str:
    """The page of a scene, in one piece."""
    return head(scene.title, embed) + page_rest(scene, embed)


def page_rest(scene: Scene, embed: bool, cached: bool = False) -> str:
    """The page after `head`: the map's own assets and styles, the map, the page around it; a
    `cached` scene (one from geomap.maps.cache.SCENES) renders once."""
    base = assets_base()
    if not cached:
        return _render(scene, embed, base)
    # The entry keeps its scene alive, so the scene's id() is not reused while the entry lives.
    entry = cache.recall(cache.PAGES, (id(scene), embed, base), lambda: (scene, _render(scene, embed, base)))
    return entry[1]


def selection_rest(steps: Iterator[Scene], embed: bool) -> Iterator[str]:
    """The page after `head` from `maps.selection_steps`: for a scene whose cells are still to
    count, the map without them first (the browser draws it while the server counts), then the
    script that adds them with the page below the map; else the page after `head` at once."""
    scene = next(steps)
    if not scene.pending:
        yield page_rest(scene, embed, cached=True)
        return
    yield _render(scene, embed, assets_base(), part="frame")
    whole = next(steps)
    yield render_template(_template(embed), scene=whole, part="end", later=maps.later(whole, embed),
                          sources=whole.sources())


def _render(scene: Scene, embed: bool, base: str, part: str = "whole") -> str:
    sent = frozenset(item.name for _, item in common_assets())
    rendered = maps.interactive(scene, assets=base, embed=embed, sent=sent)
    return render_template(_template(embed), scene=scene, map=rendered, sources=scene.sources(), part=part)


def _template(embed: bool) -> str:
    return "maps/embed.html" if embed else "maps/page.html"
