"""Print graphics that pass a desk: every text inside the canvas and off every other, at every
preset and at odd sizes; the smallest text 9 pt on paper and 14 px on screens; the title
wrapped; the credit short; one named SVG group per part and layer, text kept as text; a vector
PDF carrying the credit; the contested attribution drawn from the claims."""
from __future__ import annotations

import re
from io import BytesIO

import pytest
from builders import assert_texts_fit
from matplotlib import rc_context
from matplotlib.patches import Wedge
from pypdf import PdfReader
from scenes import focus_scene

from geomap.layers import load, names
from geomap.layers.claims import displaced, who_claims_what
from geomap.layers.credit import credit_text, origins
from geomap.layers.graphic import RC, draw, render
from geomap.layers.scene import Claim
from geomap.layers.size import Size
from geomap.layers.textfit import visible_texts

LAYERS = [load(n) for n in names()]
SIZES = [
    pytest.param(Size.parse(preset="a4", dpi=150), id="a4"),
    pytest.param(Size.parse(preset="a4", dpi=300), id="a4-300dpi"),
    pytest.param(Size.parse(preset="a4-portrait", dpi=150), id="a4-portrait"),
    pytest.param(Size.parse(preset="social"), id="social"),
    pytest.param(Size.parse(preset="social-square"), id="social-square"),
    pytest.param(Size.parse(300, 300, 50), id="300x300@50"),
    pytest.param(Size.parse(300, 1200, 150), id="tall-narrow"),
    pytest.param(Size.parse(2400, 400, 100), id="wide-short"),
    pytest.param(Size.parse(800, 600, 300), id="800x600@300"),
]
LONG_TITLE = ("Rocket attack on K-1 Air Base from a pickup near 'Neptis', Yaychi sub-district, west-south-west of "
              "Kirkuk: the launch site, the rings and the nearest prior incidents of every group")


def drawn(scene, size):
    with rc_context(RC):
        figure = draw(scene.at_start(), LAYERS, size)
        renderer = figure.canvas.get_renderer()
        return figure, renderer, visible_texts(figure)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("title", ["Map", LONG_TITLE])
def test_every_text_is_inside_the_canvas_and_off_every_other(size, title):
    assert_texts_fit(*drawn(focus_scene(title=title), size))


@pytest.mark.parametrize("size", SIZES)
def test_no_text_is_smaller_than_9_pt_printed_or_14_px_on_screen(size):
    _, _, texts = drawn(focus_scene(), size)
    smallest = min(t.get_fontsize() for t in texts)
    assert smallest >= 9 - 1e-9 and smallest * size.dpi / 72 >= 14 - 1e-9


@pytest.mark.parametrize("preset", ["social-square", "social", "a4-portrait"])
def test_a_long_title_wraps_to_two_lines_and_is_never_cut_by_the_canvas(preset):
    _, _, texts = drawn(focus_scene(title=LONG_TITLE), Size.parse(preset=preset))
    (title,) = [t for t in texts if t.get_gid() == "title"]
    lines = title.get_text().split("\n")
    assert 1 < len(lines) <= 2 and lines[0].startswith("Rocket attack on K-1")


@pytest.mark.parametrize("preset, lines", [("social", 1), ("social-square", 1), ("a4", 2), ("a4-portrait", 2)])
def test_the_credit_is_one_line_at_social_sizes_and_at_most_two_at_a4(preset, lines):
    scene = focus_scene(links={"page": "https://geomap.example/maps/incidents/focus"})
    _, _, texts = drawn(scene, Size.parse(preset=preset))
    scene = scene.at_start()
    (credit,) = [t for t in texts if t.get_gid() == "credit"]
    assert len(credit.get_text().split("\n")) <= lines
    assert "geomap.example/maps/incidents/focus" in credit.get_text() or lines == 1
    assert f"Data {scene.data_version}" in credit.get_text().replace("version ", "")
    assert "Natural Earth, \u00a9 GeoNames (CC BY 4.0)" in credit.get_text()


def test_original_reporting_comes_first_and_copies_credit_what_they_copy():
    nyt = {"title": "A", "publisher": "The Boston Globe (reprint of The New York Times)", "url": "https://a.example",
           "copy_of": "The New York Times"}
    mirror = {"title": "B", "publisher": "Anti-Empire (copy)", "url": "https://b.example",
              "copy_of": "The New York Times"}
    wire = [{"title": f"W{i}", "publisher": "Wire", "url": f"https://w.example/{i}"} for i in range(5)]
    scene = focus_scene()
    incident = scene.incidents[0]
    from dataclasses import replace
    scene = focus_scene(incidents=(replace(incident, sources=(*wire, nyt, mirror)),), focus=None, distances=(),
                        sites=(), zones=(), links={"page": "https://geomap.example/maps/x"})
    assert [o.name for o in origins(scene)][:2] == ["The New York Times", "Wire"]  # 2 copies, 5 + 1 (the claim's) wires
    text = credit_text(scene, named=1)
    assert text.startswith("Sources: The New York Times and 6 more at geomap.example/maps/x \u00b7 Data version")
    assert "Boston Globe" not in text and "Anti-Empire" not in text


def test_an_origin_cited_directly_and_never_as_primary_is_not_original_reporting_however_often_copied():
    from dataclasses import replace

    encyclopedia = {"title": "E", "publisher": "Wikipedia", "url": "https://e.example", "primary": False}
    mirrors = [{"title": f"M{i}", "publisher": f"Mirror {i}", "url": f"https://m.example/{i}", "copy_of": "Wikipedia"}
               for i in range(4)]
    wire = {"title": "W", "publisher": "Wire", "url": "https://w.example", "primary": True}
    incident = focus_scene().incidents[0]
    scene = focus_scene(incidents=(replace(incident, sources=(encyclopedia, *mirrors, wire)),), focus=None,
                        distances=(), sites=(), zones=())
    ranked = origins(scene)
    assert [(o.name, o.original) for o in ranked][:2] == [("Wire", True), ("Wikipedia", False)]


@pytest.mark.parametrize("page", ["http://127.0.0.1:5491/maps/x", "http://localhost/maps/x", "http://10.1.2.3/m",
                                  "http://192.168.0.4/m", "http://[::1]:80/m", "/maps/incidents/x"])
def test_no_loopback_private_or_relative_address_is_printed(page):
    text = credit_text(focus_scene(links={"page": page}))
    assert "/maps" not in text and "127.0.0.1" not in text and "localhost" not in text


def test_svg_has_one_named_group_per_part_and_layer_and_keeps_text_as_text():
    svg = render(focus_scene().at_start(), LAYERS, "svg", Size.parse(preset="a4", dpi=100)).decode()
    ids = set(re.findall(r'<g id="([^"]+)"', svg))
    parts = {"title", "subtitle", "legend", "inset", "map", "credit", "scale-bar", "north-arrow", "labels"}
    layers = {f"layer-{n}" for n in ("basemap", "zones", "uncertainty", "rings", "distances", "incidents", "claims",
                                     "sites")}
    assert parts | layers <= ids
    assert not any(re.fullmatch(r"(patch|line2d|text)_\d+", i) for i in ids & (parts | layers))
    assert "<text" in svg and "Data version" in svg  # svg.fonttype none: text, not glyph paths


@pytest.mark.parametrize("preset", ["social", "a4"])
def test_every_text_drawn_is_text_in_the_svg(preset):
    """No text becomes outlines (a stroked halo would): each line of each visible text is an SVG <text>."""
    from xml.sax.saxutils import escape

    figure, _, texts = drawn(focus_scene(title="Map"), Size.parse(preset=preset))
    out = BytesIO()
    with rc_context(RC):
        figure.savefig(out, format="svg")
    svg = out.getvalue().decode()
    found = set(re.findall(r"<text[^>]*>([^<]*)</text>", svg))
    lines = {escape(line) for t in texts for line in t.get_text().split("\n")}  # matplotlib escapes &, <, >
    assert lines and not {line.replace("\\$", "$") for line in lines} - found


def test_pdf_is_vector_and_carries_the_credit():
    scene = focus_scene(links={"page": "https://geomap.example/maps/incidents/focus"})
    data = render(scene.at_start(), LAYERS, "pdf", Size.parse(preset="a4", dpi=150))
    reader = PdfReader(BytesIO(data))
    (page,) = reader.pages
    resources = page["/Resources"]
    xobjects = resources.get("/XObject", {})
    images = [k for k, v in xobjects.items() if v.get_object().get("/Subtype") == "/Image"]
    assert images == [] and float(page.mediabox.width) == pytest.approx(297 / 25.4 * 72, abs=1)
    text = page.extract_text()
    assert "Data version" in text and "geomap.example" in text and "Natural Earth" in text


def test_who_claims_what_comes_from_the_claims():
    scene = focus_scene()
    focus = scene.focus
    claims = (Claim("kataib-hezbollah", "US officials (Pentagon)", "accused"),
              Claim("islamic-state", "Iraqi officials (Federal Police intelligence)", "assessed"),
              Claim("kataib-hezbollah", "Iraqi officials, as reported", "disputed"))
    from dataclasses import replace
    text = who_claims_what(scene, replace(focus, claims=claims))
    kh = scene.group_name("kataib-hezbollah")
    assert text == f"US officials: {kh}; Iraqi officials: Islamic State and {kh} (disputed)"


def test_the_contested_focus_is_split_in_the_claimed_groups_colours_and_stays_on_top():
    scene = focus_scene()
    with rc_context(RC):
        figure = draw(scene.at_start(), LAYERS, Size.parse(preset="a4", dpi=100))
    wedges = [a for a in figure.findobj(Wedge)]
    colours = {tuple(round(c, 3) for c in w.get_facecolor()[:3]) for w in wedges}
    assert len(wedges) == 2 and len(colours) == 2
    incidents = [a for a in figure.findobj(lambda a: a.get_gid() == "layer-incidents")][0]
    claims = [a for a in figure.findobj(lambda a: a.get_gid() == "layer-claims")][0]
    assert claims.get_zorder() > incidents.get_zorder()


def test_markers_on_the_focus_are_moved_beside_it():
    import numpy as np
    points = np.array([[0.0, 0.0], [1.0, 0.0], [100.0, 0.0]])
    moved = displaced(points, (0.0, 0.0), 10.0)
    assert np.allclose(np.hypot(*moved[:2].T), 10.0) and (moved[2] == points[2]).all()
    assert not np.allclose(moved[0], moved[1])
