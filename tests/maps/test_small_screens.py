"""The web map at every size, in headless Chromium with the network off (the fixtures of
test_browser): at 375 px (a phone) and in a 640 px iframe, the map, the time slider and the
legend stay usable; the legend never hides the layer control; labels never overlap each other
and never take a click from a marker."""
from __future__ import annotations

import pytest
from test_browser import K1, Watched, seeded_url, serving, xss_app  # noqa: F401 (fixtures)

SIZES = [(375, 667), (640, 420)]


def box(page, selector: str) -> dict:
    return page.eval_on_selector(selector, "e => { const r = e.getBoundingClientRect();"
                                 " return {x: r.left, y: r.top, w: r.width, h: r.height}; }")


def overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


@pytest.fixture
def small(browser):
    watched = Watched(browser)
    yield watched
    watched.page.close()


def check_usable(page, frame) -> None:
    """The legend, the layer control and the slider inside the map, apart, and the map mostly free."""
    container = box(frame, ".leaflet-container")
    legend, layers, time = box(frame, ".gm-legend"), box(frame, ".leaflet-control-layers"), box(frame, ".gm-time")
    for part in (legend, layers, time):
        assert part["x"] >= container["x"] - 1 and part["x"] + part["w"] <= container["x"] + container["w"] + 1
        assert part["y"] >= container["y"] - 1 and part["y"] + part["h"] <= container["y"] + container["h"] + 1
    assert not overlap(legend, layers) and not overlap(time, legend) and not overlap(time, layers)
    assert legend["w"] * legend["h"] < 0.15 * container["w"] * container["h"]  # collapsed at the start
    assert time["w"] * time["h"] < 0.25 * container["w"] * container["h"]
    frame.click(".gm-legend-toggle")  # opened, it still leaves the layer control free
    legend = box(frame, ".gm-legend")
    assert frame.eval_on_selector(".gm-legend-toggle", "e => e.getAttribute('aria-expanded')") == "true"
    assert not overlap(legend, box(frame, ".leaflet-control-layers"))
    frame.click(".gm-legend-toggle")
    frame.locator(".gm-time-range").fill("0")  # the slider answers
    assert frame.inner_text(".gm-time-day") != ""


def check_labels(frame) -> None:
    boxes = frame.eval_on_selector_all(
        ".leaflet-gmLabels-pane .gm-label:not(.gm-hidden-label) span, "
        ".leaflet-gmSites-pane .gm-site-name:not(.gm-hidden-label) span",
        "els => els.map(e => e.getBoundingClientRect()).filter(r => r.width > 0)"
        ".map(r => ({x: r.left, y: r.top, w: r.width, h: r.height}))")
    assert boxes  # some labels are shown
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not overlap(a, b), (a, b)


def check_focus_click(frame) -> None:
    """A click on the focus marker opens its popup, whatever label lies over it."""
    point = frame.evaluate("""() => { let p = null; geomap.map.eachLayer(l => {
        if (l.options && /gm-focus-incident/.test(l.options.className || '')) {
          const c = geomap.map.latLngToContainerPoint(l.getLatLng()),
                r = geomap.map.getContainer().getBoundingClientRect(); p = [r.left + c.x, r.top + c.y]; } });
        return p; }""")
    return point


@pytest.mark.parametrize("width, height", SIZES)
def test_the_incident_map_is_usable_on_a_small_screen(small, seeded_url, width, height):  # noqa: F811
    small.page.set_viewport_size({"width": width, "height": height})
    page = small.open(f"{seeded_url}/maps/incidents/{K1}?embed=1")
    check_labels(page)
    point = check_focus_click(page)
    assert point is not None
    page.mouse.click(*point)
    assert "FOCUS INCIDENT" in page.inner_text(".leaflet-popup-content").upper()
    page.keyboard.press("Escape")
    check_usable(page, page)
    small.assert_clean()


def test_the_map_is_usable_in_a_640_px_iframe(small, seeded_url):  # noqa: F811
    small.page.set_viewport_size({"width": 800, "height": 700})
    small.page.set_content(f'<iframe src="{seeded_url}/maps/incidents/{K1}?embed=1" width="640" height="480" '
                           'style="border:0"></iframe>')
    frame = small.page.frame_locator("iframe")
    handle = small.page.frames[1]
    handle.wait_for_function("window.geomap && window.geomap.ready === true", timeout=30_000)
    assert box(handle, ".leaflet-container")["w"] == 640
    check_usable(small.page, handle)
    check_labels(handle)
    assert frame.locator(".gm-legend").count() == 1
    small.assert_clean()


def test_labels_take_no_clicks(small, seeded_url):  # noqa: F811
    page = small.open(f"{seeded_url}/maps/incidents/{K1}")
    events = page.eval_on_selector_all(".leaflet-gmLabels-pane .gm-label",
                                       "els => els.map(e => getComputedStyle(e).pointerEvents)")
    assert events and set(events) == {"none"}
    small.assert_clean()


def test_the_landing_page_leads_to_the_maps_and_each_link_answers(small, seeded_url):  # noqa: F811
    page = small.page
    page.goto(f"{seeded_url}/?f=html")
    hrefs = page.eval_on_selector_all(".gm-maps a", "els => els.map(e => e.getAttribute('href'))")
    assert "/maps" in hrefs and any(h.startswith("/maps.pdf") for h in hrefs)
    for href in hrefs:
        assert page.request.get(f"{seeded_url}{href}").status == 200, href
    page.click("text=Map of every incident")
    page.wait_for_function("window.geomap && window.geomap.ready === true", timeout=30_000)
    small.assert_clean()
