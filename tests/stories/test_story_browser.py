"""The story map in a real headless Chromium (Debian's, driven by Playwright): it opens with no
request but its own, every step and source is there, the map moves to each step, it works at
375 px and in a 640 px iframe, and XSS payloads in link notes and incident text stay text."""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from builders import SOURCE, group, incident, load_features
from click.testing import CliRunner
from conftest import fresh_database, serving

from geomap import create_app
from geomap.cli import main

K1 = "k1-rocket-attack-2019-12-27"
XSS = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "</script><script>window.__xss=2</script>"


@pytest.fixture(scope="module")
def story_file(seeded_app, tmp_path_factory):
    """The K-1 story as `geomap story` writes it: one file, opened from disk."""
    path = tmp_path_factory.mktemp("story") / "story.html"
    env = {"DATABASE_URL": seeded_app.extensions["geomap.settings"].database_url}
    result = CliRunner().invoke(main, ["story", K1, "-o", str(path)], env=env)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="module")
def seeded_url(seeded_app):
    with serving(seeded_app) as url:
        yield url


class Watched:
    """A page that records every request it makes and everything that goes wrong; requests
    other than `allowed` (the page itself) are aborted."""

    def __init__(self, browser, width: int = 1280, height: int = 860, allowed: tuple[str, ...] = ()) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.allowed, self.requests, self.blocked, self.errors = allowed, [], [], []
        self.page.route("**/*", self._route)
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _route(self, route):
        url = route.request.url
        self.requests.append(url)
        if url in self.allowed or urlsplit(url).path.startswith("/stories/") and url.split("?")[0] in self.allowed:
            return route.continue_()
        self.blocked.append(url)
        return route.abort()

    def open(self, url: str, frame=None):
        self.page.goto(url)
        (frame or self.page).wait_for_function("window.geomapStory && window.geomapStory.ready === true",
                                               timeout=30_000)
        return self.page

    def step(self) -> int:
        return self.page.evaluate("window.geomapStory.step") + 1

    def map_center(self) -> tuple[float, float]:
        self.page.wait_for_timeout(1100)  # the fly animation takes 0.8 s
        c = self.page.evaluate("(() => { const c = window.geomapStory.map.getCenter(); return [c.lat, c.lng]; })()")
        return c[0], c[1]


def _bounds_centre(page, n: int) -> tuple[float, float]:
    b = page.evaluate(f"window.geomapStory.data.steps[{n - 1}].bounds")
    return (b[0][0] + b[1][0]) / 2, (b[0][1] + b[1][1]) / 2


def test_the_story_file_opens_offline_with_no_request_but_itself(browser, story_file):
    url = story_file.as_uri()
    watched = Watched(browser, allowed=(url,))
    page = watched.open(url)
    page.wait_for_timeout(500)
    assert watched.requests == [url] and watched.blocked == [] and watched.errors == []
    assert page.locator(".gs-tick").count() == 6 and page.locator(".leaflet-interactive").count() > 0
    watched.page.close()


def test_every_step_in_order_the_map_moving_to_each(browser, story_file):
    url = story_file.as_uri()
    watched = Watched(browser, allowed=(url,))
    page = watched.open(url)
    dates = page.locator(".gs-tick span").all_inner_texts()
    assert dates == ["27 Dec 2019", "29 Dec 2019", "31 Dec 2019", "3 Jan 2020", "8 Jan 2020", "8 Jan 2020"]
    for n in range(1, 7):
        if n > 1:
            page.locator(f"#gs-step-{n - 1} .gs-next").click()
        assert watched.step() == n
        assert page.locator(f"#gs-step-{n}").is_visible() and page.locator(".gs-step:visible").count() == 1
        lat, lon = watched.map_center()
        want = _bounds_centre(page, n)
        assert abs(lat - want[0]) < 0.5 and abs(lon - want[1]) < 0.5, (n, (lat, lon), want)
        sources = page.locator(f"#gs-step-{n} .gm-sources a")
        assert sources.count() > 0 and all(h.startswith(("http://", "https://"))
                                           for h in sources.evaluate_all("els => els.map(e => e.href)"))
    page.locator(".gs-tick").nth(1).click()
    assert watched.step() == 2 and page.locator("#gs-step-2").is_visible()
    page.keyboard.press("ArrowRight")
    assert watched.step() == 3
    assert watched.blocked == [] and watched.errors == []
    watched.page.close()


def test_usable_at_375_px(browser, story_file):
    url = story_file.as_uri()
    watched = Watched(browser, width=375, height=740, allowed=(url,))
    page = watched.open(url)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing wider than the phone
    box = page.locator("#gs-map").bounding_box()
    assert box["width"] == 375 and box["height"] >= 200
    next_button = page.locator("#gs-step-1 .gs-next")
    next_button.scroll_into_view_if_needed()
    next_button.click()
    assert watched.step() == 2 and page.locator("#gs-step-2 h2").is_visible()
    tick = page.locator(".gs-tick").nth(5)
    tick.click()  # the timeline scrolls sideways; its last date is reachable
    assert watched.step() == 6
    assert watched.blocked == [] and watched.errors == []
    watched.page.close()


def test_embedded_in_a_640_px_iframe(browser, seeded_url):
    story = f"{seeded_url}/stories/{K1}?embed=1"
    watched = Watched(browser, width=800, height=700, allowed=(story, f"{seeded_url}/host"))
    watched.page.route(f"{seeded_url}/host", lambda route: route.fulfill(
        content_type="text/html", body=f'<iframe src="{story}" width="640" height="480"></iframe>'))
    watched.page.goto(f"{seeded_url}/host")
    frame = watched.page.frame_locator("iframe")
    frame.locator(".gs-tick").first.wait_for()
    inner = watched.page.frames[1]
    inner.wait_for_function("window.geomapStory && window.geomapStory.ready === true")
    assert inner.evaluate("document.documentElement.scrollWidth") <= 640
    assert frame.locator("#gs-map").bounding_box()["height"] >= 200
    frame.locator(".gs-tick").nth(3).click()
    assert inner.evaluate("window.geomapStory.step") == 3
    assert watched.blocked == [] and watched.errors == []
    watched.page.close()


@pytest.fixture(scope="module")
def xss_story(cluster, tmp_path_factory):
    """Two incidents and a link between them, every string an XSS payload."""
    with fresh_database(cluster) as url:
        app = create_app({"DATABASE_URL": url})
        evil = dict(group("evil-group"), name=f"Evil {XSS}")
        bad_source = dict(SOURCE, title=f"Source {XSS}", publisher=f"Pub {XSS}",
                          url='https://example.org/x"onmouseover="window.__xss=3"><script>window.__xss=4</script>')
        first = incident("xss-first", 44.21, 35.48, "2019-12-27", claims=(("evil-group", "claimed"),))
        first["properties"].update(title=XSS, description=XSS_SCRIPT, sources=[bad_source])
        second = incident("xss-second", 44.25, 35.45, "2019-12-29")
        second["properties"].update(title=f"Second {XSS_SCRIPT}", location_name=XSS)
        link = {"type": "Feature", "id": "xss-link", "geometry": None, "properties": {
            "kind": "response_to", "subject": "incidents/xss-second", "object": "incidents/xss-first",
            "notes": f"Note {XSS} {XSS_SCRIPT}", "sources": [bad_source]}}
        folder = tmp_path_factory.mktemp("xss")
        load_features(app.extensions["geomap.engine"], folder, groups=[evil], incidents=[first, second])
        (folder / "relations.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [link]}))
        from geomap.ingest import load

        load(app.extensions["geomap.engine"], [folder / "relations.geojson"])
        with serving(app) as base:
            yield app, base
        app.extensions["geomap.engine"].dispose()


def test_xss_in_link_notes_and_incident_text_renders_as_text(browser, xss_story):
    app, base = xss_story
    page_html = app.test_client().get("/stories/xss-first").data.decode()
    assert XSS not in page_html and "<script>window.__xss" not in page_html
    url = f"{base}/stories/xss-first"
    watched = Watched(browser, allowed=(url,))
    page = watched.open(url)
    page.locator("#gs-step-1 .gs-next").click()
    page.locator(".gs-marker").first.hover()
    assert page.evaluate("window.__xss") is None
    assert page.locator("#gs-step-1 h2").inner_text() == XSS
    assert f"Note {XSS}" in page.locator("#gs-step-2 .gs-link").inner_text()
    assert page.locator('a[href^="javascript:"]').count() == 0 and page.locator("img").count() == 0
    assert watched.errors == []
    watched.page.close()
