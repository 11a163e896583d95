"""Sites: the reference places incidents target (air bases, embassies, airports, cities)."""
from __future__ import annotations

import folium
from markupsafe import Markup

from geomap.layers.base import Frame, JsCall, Layer, backdrop, collection, feature, overlay
from geomap.layers.scene import MapSite, Scene
from geomap.layers.style import SITE_MARK, LegendEntry
from geomap.layers.text import mpl_text, precision_text, site_popup

TRIANGLE = ('<svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">'
            '<path d="M8 1.5 L14.5 14 L1.5 14 Z" fill="#1b1b1b" stroke="#ffffff" stroke-width="1.6"/></svg>')


def site_features(site: MapSite) -> list[dict]:
    """A site's triangle (with its popup and tooltip) and its name label, as two Features."""
    symbol = feature(site.lon, site.lat, cls="gm-site", html=f"<span>{TRIANGLE}</span>", pane="gmSites",
                     popup=site_popup(site), tooltip=str(Markup("<b>{}</b><br>{}, location {}").format(
                         site.name, site.kind.replace("_", " "), precision_text(site.precision_m))))
    name = feature(site.lon, site.lat, cls="gm-site-name", html=str(Markup("<span>{}</span>").format(site.name)),
                   pane="gmSites")
    return [symbol, name]


class Sites(Layer):
    """The reference sites, each a triangle with its name."""

    name = "sites"
    title = "Sites"

    def applies(self, scene: Scene) -> bool:
        return bool(scene.sites)

    def to_folium(self, fmap: folium.Map, scene: Scene) -> None:
        group = overlay(fmap, f"Sites ({len(scene.sites)})")
        group.add_child(JsCall("labels", collection([f for s in scene.sites for f in site_features(s)])))

    def to_axes(self, ax, scene: Scene, frame: Frame) -> None:
        xmin, xmax, ymin, ymax = frame.view
        for site in scene.sites:
            x, y = frame.projection.xy([site.lon], [site.lat])
            if not (xmin < x[0] < xmax and ymin < y[0] < ymax):
                continue
            ax.plot(x, y, marker="^", linestyle="none", markersize=SITE_MARK.radius * 1.6,
                    markerfacecolor=SITE_MARK.fill, markeredgecolor=SITE_MARK.color, markeredgewidth=1.0, zorder=7)
            frame.obstacle(x[0], y[0], SITE_MARK.radius * 0.8)
            frame.label(0, x[0], y[0], mpl_text(site.name.split(" (")[0]), xytext=(7, 4), zorder=7, fontsize=frame.font_size * 0.9,
                        fontweight="bold", color="#111111", bbox=backdrop())

    def legend(self, scene: Scene) -> list[LegendEntry]:
        return [LegendEntry("Site (target or reference place)", "site", SITE_MARK, "Places")]
