"""The interactive map: layers on a Folium map with legend, layer control, scale bar, measure
tool, full-screen and time slider, rendered with offline assets only."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import folium
from folium.plugins import Fullscreen, MeasureControl
from markupsafe import Markup, escape

from geomap.layers.assets import INLINE, Asset, asset, bundled, localise
from geomap.layers.base import JsCall, Layer, js_call
from geomap.layers.basemap import ATTRIBUTION, BasemapCall
from geomap.layers.credit import origins, public_page
from geomap.layers.scene import Scene
from geomap.layers.style import LegendEntry, Mark
from geomap.layers.text import script_json

# Of Folium's default assets, Leaflet only (no jQuery, Bootstrap or icon fonts), picked by the
# names Folium gives them; `localise` swaps each for its offline copy before rendering.
LEAFLET_ONLY = ("leaflet", "leaflet_css")


class MeasureCall(JsCall):
    """The measure tool (Folium's MeasureControl: leaflet-measure, its options and Folium's fix):
    its style sheet linked, its script loaded by the runtime when the tool is first used
    (geomap.measure; `lazy_js`, see geomap.layers.assets.localise)."""

    default_css = [*JsCall.default_css, *MeasureControl.default_css]
    lazy_js = list(MeasureControl.default_js)


@dataclass(frozen=True)
class Rendered:
    """The parts of a rendered map, to place in a page: head (assets, styles), body, script."""

    head: str
    body: str
    script: str

    def document(self, title: str) -> str:
        return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<link rel=\"icon\" href=\"data:,\">\n"
                f"<title>{escape(title)}</title>\n{self.head}\n</head>\n<body>\n{self.body}\n"
                f"<script>\n{self.script}\n</script>\n</body>\n</html>\n")


def build(scene: Scene, layers: Sequence[Layer], embed: bool = False) -> folium.Map:
    """The Folium map of a scene, with every control; no asset is linked yet (see `render`).
    An `embed`ded map shows its title and a source credit inside the map itself."""
    w, s, e, n = scene.extent
    fmap = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=8, tiles=None, control_scale=True,
                      width="100%", height="100%", font_size="13px")
    fmap.default_js = [item for item in fmap.default_js if item[0] in LEAFLET_ONLY]
    fmap.default_css = [item for item in fmap.default_css if item[0] in LEAFLET_ONLY]
    fmap.options.update(max_zoom=18, min_zoom=3)  # no tile layer is shown at start to set them
    # timed: the time slider adds what is shown on its date (nothing is drawn to be taken off again)
    init = {"bounds": [[s, w], [n, e]], "attribution": str(escape(ATTRIBUTION)), "timed": scene.timed}
    if embed:
        init |= {"title": scene.title, "subtitle": scene.subtitle,  # shown with textContent
                 "attribution": str(credit(scene) + Markup(" | ") + escape(ATTRIBUTION))}
    fmap.add_child(JsCall("init", init))
    drawn = [layer for layer in layers if layer.applies(scene)]
    for layer in drawn:
        layer.to_folium(fmap, scene)
    if not scene.pending:  # else the legend comes with the rest (`later`)
        fmap.add_child(JsCall("legend", legend_args(scene, drawn, embed)))
    fmap.add_child(MeasureCall("measure", {"position": "topleft", "primaryLengthUnit": "kilometers",
                                           "secondaryLengthUnit": "miles", "primaryAreaUnit": "sqkilometers",
                                           "secondaryAreaUnit": "hectares"}))
    Fullscreen(position="topleft", title="Full screen", title_cancel="Leave full screen").add_to(fmap)
    folium.LayerControl(collapsed=True, position="topright").add_to(fmap)
    if not scene.pending:
        fmap.add_child(JsCall("done", {}))
    return fmap


def later(scene: Scene, layers: Sequence[Layer], embed: bool = False) -> str:
    """The script that completes a map `build` drew from the scene while it was pending (its cells
    still to count), now that `scene` is whole: what the layers left awaiting, the legend, done."""
    drawn = [layer for layer in layers if layer.applies(scene)]
    calls = [call for layer in drawn for call in layer.later(scene)]
    calls += [js_call("legend", "geomap.map", script_json(legend_args(scene, drawn, embed))),
              js_call("done", "geomap.map", script_json({}))]
    return "\n".join(calls)


def legend_args(scene: Scene, drawn: Sequence[Layer], embed: bool) -> dict:
    """geomap.legend's data: the legend's HTML, collapsed at the start on an embedded map."""
    return {"html": legend_html(scene, drawn), "collapsed": embed}


@cache
def common_assets() -> tuple[tuple[str, Asset], ...]:
    """The (kind, asset) pairs every interactive map links, in page order (CSS, then scripts:
    Leaflet, geomap's runtime, the basemap's data, the full-screen plugin; the measure plugin's
    style sheet, not its script, which the runtime loads when the tool is first used). A page
    can link them in its head before its map is computed (see geomap.api.map_pages)."""
    owners = (folium.Map, JsCall, BasemapCall, MeasureCall, Fullscreen)
    pairs: dict[str, tuple[str, Asset]] = {}
    for kind, attr in (("css", "default_css"), ("js", "default_js")):
        for owner in owners:
            for name, url in getattr(owner, attr):
                if owner is not folium.Map or name in LEAFLET_ONLY:
                    pairs.setdefault(name, (kind, asset(url)))
    return tuple(pairs.values())


@cache
def common_bundles() -> tuple[tuple[str, Asset], ...]:
    """`common_assets` as a page's head links them: one style sheet and one script
    (`geomap.layers.assets.bundled`)."""
    return bundled(common_assets())


def render(fmap: folium.Map, assets: str = INLINE, sent: frozenset[str] = frozenset()) -> Rendered:
    """Render with assets inlined (`INLINE`) or served under a base URL such as `/maps/assets`;
    assets named in `sent` are left out (the page linked them already)."""
    figure = fmap.get_root()
    localise(figure, assets, sent)
    figure.render()
    return Rendered(figure.header.render(), figure.html.render(), figure.script.render())


def credit(scene: Scene, shown: int = 3) -> Markup:
    """`Sources: A, B, C and 9 more (full list)`: original reporting first (as the graphics'
    credit, `geomap.layers.credit`), linking to the map's page only at its public address (an
    embedded map lives on another site, where a relative or loopback link would lead nowhere)."""
    names = [o.name for o in origins(scene)]
    text = ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
    page = scene.links.get("page") if public_page(scene) else None
    link = Markup(' (<a href="{}" target="_blank" rel="noopener noreferrer">full list</a>)').format(page) \
        if page else ""
    return Markup("Sources: {}{}").format(text or "none recorded", link)


def legend_html(scene: Scene, layers: Sequence[Layer]) -> str:
    """The legend of the interactive map: each layer's entries by section, then the data version and attribution."""
    entries = [entry for layer in layers for entry in layer.legend(scene)]
    sections: dict[str, list[LegendEntry]] = {}
    for entry in entries:
        sections.setdefault(entry.section, []).append(entry)
    parts = [Markup("<h4>{}</h4><ul>{}</ul>").format(
        section, Markup("").join(Markup("<li>{}<span>{}</span></li>").format(swatch(e), e.label) for e in items))
        for section, items in sections.items()]
    note = Markup("<div class=gm-note>Data version {} \u00b7 {}</div>").format(scene.data_version, ATTRIBUTION)
    return str(Markup("").join(parts) + note)


def swatch(entry: LegendEntry) -> Markup:
    """A small inline SVG showing the entry's symbol."""
    m: Mark = entry.mark
    dash = " ".join(f"{d * m.weight:g}" for d in m.dash)
    common = Markup('stroke="{}" stroke-width="{}" stroke-dasharray="{}"').format(m.color, m.weight, dash or "none")
    fill = Markup('fill="{}" fill-opacity="{}"').format(m.fill or "none", m.fill_opacity if m.fill else 0)
    shapes = {
        "point": Markup('<circle cx="9" cy="9" r="6" {} {}/>').format(fill, common),
        "circle": Markup('<circle cx="9" cy="9" r="7.5" {} {}/>').format(fill, common),
        "area": Markup('<rect x="1.5" y="3.5" width="15" height="11" {} {}/>').format(fill, common),
        "line": Markup('<line x1="1" y1="9" x2="17" y2="9" {}/>').format(common),
        "site": Markup('<path d="M9 2 L16 15 L2 15 Z" fill="#1b1b1b" stroke="#ffffff" stroke-width="1.4"/>'),
    }
    return Markup('<svg width="18" height="18" viewBox="0 0 18 18" aria-hidden="true">{}</svg>').format(
        shapes[entry.symbol])
