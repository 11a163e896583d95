"""A scene drawn by its layers: the interactive web map (HTML with offline assets) and the
static graphic (PNG or SVG for print)."""
from __future__ import annotations

from geomap.layers import load
from geomap.layers.assets import INLINE
from geomap.layers.graphic import render
from geomap.layers.scene import Scene
from geomap.layers.size import Size
from geomap.layers.webmap import Rendered, build
from geomap.layers.webmap import later as later_script
from geomap.layers.webmap import render as render_html
from geomap.maps.collector import settle


def layers_of(scene: Scene) -> list:
    """The layer objects a scene names, in its drawing order."""
    return [load(name) for name in scene.layers]


def interactive(scene: Scene, assets: str = INLINE, embed: bool = False, sent: frozenset[str] = frozenset()
                ) -> Rendered:
    """The interactive map's HTML parts; `assets` is INLINE or a base URL such as /maps/assets
    (leaving out the assets named in `sent`, which the page has linked already).
    An embedded (or standalone) map carries its title and a source credit inside the map."""
    rendered = render_html(build(scene, layers_of(scene), embed), assets, sent)
    settle()
    return rendered


def later(scene: Scene, embed: bool = False) -> str:
    """The script that completes an `interactive` map of the scene drawn while it was pending
    (`geomap.maps.selection_steps`), now that `scene` is whole."""
    return later_script(scene, layers_of(scene), embed)


def graphic(scene: Scene, fmt: str, size: Size) -> bytes:
    """The static graphic as PNG or SVG bytes (matplotlib only: no browser, no network): the
    interactive map's starting state, i.e. what its time slider shows on the scene's date."""
    return render(scene.at_start(), layers_of(scene), fmt, size)
