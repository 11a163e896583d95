"""Offline map assets: Leaflet, its plugins and geomap's runtime, never from a CDN.

Folium names its JavaScript and CSS by CDN URL. The `folium-offline` package ships the content
of those exact URLs (with the images of the CSS already inlined as data: URIs), and geomap's own
runtime lives in `geomap/static/maps/`. `localise` rewrites a map before it is rendered so that
every asset is either served by the app (`/maps/assets/NAME`) or inlined in the page; an asset
with no offline copy is an error, never a silent fallback to the network.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from posixpath import basename

from branca.element import Element, Figure

from geomap.errors import MissingDependency

RUNTIME_PREFIX = "geomap-static:"
RUNTIME_JS = RUNTIME_PREFIX + "maps/geomap.js"
RUNTIME_CSS = RUNTIME_PREFIX + "maps/geomap.css"
GENERATED_PREFIX = "geomap-generated:"
BASEMAP_JS = GENERATED_PREFIX + "maps/basemap.js"  # the offline basemap's data (geomap.layers.basemap)
INLINE = "inline"
JOIN = "+"  # between the names of the assets a bundle's name lists (leaflet.1a2b3c4d5e.js+geomap.6f7a8b9c0d.js)
MAX_PARTS = 12  # assets in one bundle at most (a map page links 9 at most today)


@dataclass(frozen=True)
class Asset:
    """One file a map page needs (script, style sheet or data), served by geomap under a content-addressed name."""

    url: str  # the URL folium names it by (or a geomap-static: path)
    name: str  # content-addressed file name, e.g. leaflet.1a2b3c4d5e.js
    media_type: str
    text: str


@cache
def _folium_offline() -> dict[str, str]:
    try:
        from offlinefolium.elements import _res
    except ImportError as exc:  # pragma: no cover - a packaging error, not a user error
        raise MissingDependency("the folium-offline package is missing; reinstall geomap (pip install -e .)") from exc
    return _res


def _runtime_text(url: str) -> str:
    path = url.removeprefix(RUNTIME_PREFIX)
    return resources.files("geomap").joinpath("static", *path.split("/")).read_text(encoding="utf-8")


@cache
def asset(url: str) -> Asset:
    """The offline copy of `url`; MissingDependency when there is none."""
    if url.startswith(RUNTIME_PREFIX):
        text = _runtime_text(url)
    elif url == BASEMAP_JS:  # the same half megabyte for every map: a cacheable file, not inline
        from geomap.layers.basemap import basemap_script
        text = basemap_script()
    else:
        text = _folium_offline().get(url)
        if text is None:
            raise MissingDependency(f"no offline copy of {url}; geomap only uses assets it can serve itself")
    stem, _, ext = basename(url.split("?")[0]).rpartition(".")
    ext = ext if ext in ("js", "css") else ("css" if "css" in url else "js")
    stem = re.sub(r"[^A-Za-z0-9_.-]", "-", stem or "asset")
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    media = "text/css" if ext == "css" else "text/javascript"
    return Asset(url, f"{stem}.{digest}.{ext}", media, text)


RUNTIME_FILES = (RUNTIME_JS, RUNTIME_CSS, BASEMAP_JS)


@cache
def _index() -> dict[str, Asset]:
    return {item.name: item for item in map(asset, (*RUNTIME_FILES, *_folium_offline()))}


def by_name(name: str) -> Asset | None:
    """The asset with this content-addressed name (as pages refer to it), or None; a bundle's
    name (see `bundled`) gives its assets joined."""
    if JOIN not in name:
        return _index().get(name)
    return _joined(tuple(name.split(JOIN))) if name.count(JOIN) < MAX_PARTS else None


# Why pages link bundles (bench/README maps "Session 16"): a browser opens at most six connections
# to a host, and the streamed map page holds one while it is sent, so the nine files a map linked
# came in two rounds, and each script was compiled as a task of its own. The first load of a map
# page took 524 ms with the nine files, 431 ms with two bundles, 429 ms with everything inlined
# (copies of the same page, 10 loads each, alternating). A bundle's name lists its parts'
# content-addressed names, so it is as immutable as they are, browsers keep it across pages, and
# any worker serves it with no record of which bundles pages link. Scripts are joined by a `;`
# line, so that no file's last statement runs into the next one's first; source map comments go
# (they name files geomap does not serve, and mid-bundle they would name the wrong code).
SEPARATORS = {"css": "\n", "js": "\n;\n"}
SOURCE_MAP = re.compile(r"^\s*//# sourceMappingURL=\S*\s*$", re.M)


def bundled(items) -> tuple[tuple[str, Asset], ...]:
    """`(kind, Asset)` pairs as a page links them: one bundle per kind (style sheets, then
    scripts, each in their order), or the asset itself when it is the only one of its kind."""
    pairs = []
    for kind in SEPARATORS:
        parts = [item for k, item in items if k == kind]
        for start in range(0, len(parts), MAX_PARTS):
            chunk = parts[start:start + MAX_PARTS]
            pairs.append((kind, chunk[0] if len(chunk) == 1 else _joined(tuple(item.name for item in chunk))))
    return tuple(pairs)


@lru_cache(maxsize=16)  # the bundles pages link are few; a client's made-up ones must not fill memory
def _joined(names: tuple[str, ...]) -> Asset | None:
    parts, kinds = [_index().get(name) for name in names], {name.rpartition(".")[2] for name in names}
    if len(parts) < 2 or None in parts or len(kinds) > 1:
        return None
    text = SEPARATORS[kinds.pop()].join(SOURCE_MAP.sub("", item.text) for item in parts)
    return Asset(" ".join(item.url for item in parts), JOIN.join(names), parts[0].media_type, text)


class Raw(Element):
    """Text placed in the page as it is. branca parses the text of a plain Element as a Jinja
    template, so user data (which may well contain `{{`) and asset code must only ever travel
    in a Raw."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


def _walk(element):
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def _tag(item: Asset, kind: str, mode: str) -> str:
    if mode == INLINE:
        if kind == "js":
            return "<script>" + re.sub(r"</(script)", r"<\\/\1", item.text, flags=re.I) + "</script>"
        return "<style>" + re.sub(r"</(style)", r"<\\/\1", item.text, flags=re.I) + "</style>"
    href = mode.rstrip("/") + "/" + item.name
    return f'<script src="{href}"></script>' if kind == "js" else f'<link rel="stylesheet" href="{href}">'


def tags(items, mode: str) -> str:
    """The tags linking (or inlining) `(kind, Asset)` pairs, as in a page's head."""
    return "\n".join(_tag(item, kind, mode) for kind, item in items)


def lazy_tag(name: str, item: Asset, mode: str) -> str:
    """A script the page runs only when asked (geomap.js's `lazyScript`): a tag that does not
    run, `gm-lazy-<name>`, holding the script's URL (data-src) or, inline, its text."""
    if mode == INLINE:
        text = re.sub(r"</(script)", r"<\\/\1", item.text, flags=re.I)
        return f'<script type="text/plain" id="gm-lazy-{name}">{text}</script>'
    return f'<script type="text/plain" id="gm-lazy-{name}" data-src="{mode.rstrip("/")}/{item.name}"></script>'


def localise(figure: Figure, mode: str, sent: frozenset[str] = frozenset(), bundle: bool = True) -> list[Asset]:
    """Point every asset of the elements under `figure` at the app (mode = a base URL such as
    `/maps/assets`: linked as `bundled` unless `bundle` is false, one file a tag as Folium
    writes them) or inline them (mode = INLINE); call it after the map is complete. Assets
    whose names are in `sent` are left out (the page's head already linked them). An element's
    `lazy_js` scripts are not run by the page: each gets a `lazy_tag` for the runtime to load."""
    wanted: dict[str, tuple[str, Asset]] = {}
    lazy: dict[str, Asset] = {}
    for element in _walk(figure):
        for name, url in getattr(element, "lazy_js", ()) or ():
            lazy.setdefault(name, asset(url))
        if getattr(element, "lazy_js", None):
            element.lazy_js = []
        for kind, attr in (("css", "default_css"), ("js", "default_js")):
            for name, url in getattr(element, attr, ()) or ():
                wanted.setdefault(name, (kind, asset(url)))
            if getattr(element, attr, None):
                setattr(element, attr, [])  # an instance attribute: folium must not link the CDN
    ordered = [item for item in wanted.items() if item[1][0] == "css"] + \
              [item for item in wanted.items() if item[1][0] == "js"]
    ordered = [(name, entry) for name, entry in ordered if entry[1].name not in sent]
    entries = [entry for _, entry in ordered]
    for kind, item in bundled(entries) if bundle and mode != INLINE else entries:
        figure.header.add_child(Raw(_tag(item, kind, mode)), name=f"gm-asset-{item.name}")
    for name, item in lazy.items():
        figure.header.add_child(Raw(lazy_tag(name, item, mode)), name=f"gm-lazy-{name}")
    return [item for _, (_, item) in ordered]
