"""Static graphics: the requested pixel size, not blank, legend and credit in the SVG text."""
from __future__ import annotations

import struct
from io import BytesIO

import pytest
from matplotlib.image import imread
from scenes import XSS, cells_scene, focus_scene

from geomap.errors import BadRequest
from geomap.layers import load, names
from geomap.layers.credit import credit_text
from geomap.layers.graphic import render
from geomap.layers.size import Size

LAYERS = [load(n) for n in names()]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def scene():
    return focus_scene()


@pytest.fixture(scope="module")
def svg(scene) -> str:
    return render(scene.at_start(), LAYERS, "svg", Size.parse(2000, 1400, 100)).decode()


@pytest.mark.parametrize("size, pixels", [
    (Size.parse(800, 600, 100), (800, 600)),
    (Size.parse(preset="social"), (1200, 630)),
    (Size.parse(preset="a4", dpi=100), (1169, 827)),
    (Size.parse(preset="a4-portrait", dpi=72), (595, 842)),
])
def test_png_has_the_requested_pixel_size(scene, size, pixels):
    assert png_size(render(scene.at_start(), LAYERS, "png", size)) == pixels


def test_png_is_not_blank(scene):
    image = imread(BytesIO(render(scene.at_start(), LAYERS, "png", Size.parse(600, 400, 100))))
    colours = {tuple(p) for p in (image[..., :3] * 255).astype(int).reshape(-1, 3)[::7]}
    assert image[..., :3].std() > 0.05 and len(colours) > 50


def test_svg_has_the_requested_size_in_pixels(svg):
    assert 'width="2000px" height="1400px"' in svg and 'viewBox="0 0 1440 1008"' in svg


@pytest.mark.parametrize("text", [
    "Control zones", "Islamic State: presence", "Incidents by attributed group", "Islamic State",
    "Contested: attributed to 2+ groups", "Status", "estimate (location estimated)", "Focus incident",
    "Rings at 1, 5, 10, 25 km", "Site (target or reference place)", "Where the incident may have happened",
    "Distances from the focus: best (min\u2013max)",
])
def test_svg_legend_lists_each_entry(svg, text):
    assert f">{text}" in svg or text in svg


def test_svg_has_title_scale_north_arrow_inset_and_credit(svg, scene):
    assert "Map &lt;img src=x" in svg and XSS not in svg  # the title, escaped by the SVG writer
    assert ">20 km<" in svg or ">10 km<" in svg  # the scale bar's end label
    assert ">N<" in svg  # the north arrow
    assert ">Iraq<" in svg  # the inset locator map names the country
    assert f"Data version {scene.data_version}" in svg and "Basemap: Natural Earth" in svg
    assert "Wire &lt;b&gt;service&lt;/b&gt;" in svg  # publishers are credited, as text


def test_graphic_shows_the_slider_start_only(svg):
    assert ": control" not in svg  # the KH zone is in force from 2020-01-01, after the map's date
    assert "Islamic State: presence" in svg


def test_dollar_signs_are_text_not_math(scene):
    svg = render(focus_scene(title="Cost $5 and $10 ^_^").at_start(), LAYERS, "svg", Size.parse(600, 400, 100))
    assert "Cost $5 and $10 ^_^" in svg.decode()


def test_cells_are_drawn_for_counted_selections():
    svg = render(cells_scene().at_start(), LAYERS, "svg", Size.parse(1600, 1000, 100)).decode()
    assert "Circle area \u221d incidents" in svg and "Aggregated on the server" in svg


def test_credit_names_publishers_the_data_version_and_the_basemap(scene):
    text = credit_text(scene)
    assert text.startswith("Sources: Wire <b>service</b>, Nobody \u00b7")
    assert "Basemap: Natural Earth, \u00a9 GeoNames (CC BY 4.0)" in text and scene.data_version in text
    assert "localhost" not in text  # the scene's page is a loopback address: no address is printed


@pytest.mark.parametrize("kwargs, message", [
    ({"dpi": 301}, "dpi: must be between 50 and 300"),
    ({"width": 20000}, "width: must be between 300 and 10000"),
    ({"width": 9000, "height": 9000}, "at most 40,000,000 pixels"),
    ({"preset": "a3"}, "preset: must be one of a4, a4-portrait, social, social-square"),
    ({"preset": "a4", "width": 800}, "either a preset or width/height"),
])
def test_bad_sizes_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(BadRequest, match=message):
        Size.parse(**kwargs)


def test_a4_at_300_dpi_is_print_size():
    assert (Size.parse(preset="a4", dpi=300).width, Size.parse(preset="a4", dpi=300).height) == (3508, 2480)


def test_same_data_same_version_and_bytes(scene):
    a = render(scene.at_start(), LAYERS, "svg", Size.parse(600, 400, 100))
    b = render(focus_scene().at_start(), LAYERS, "svg", Size.parse(600, 400, 100))
    assert focus_scene().data_version == scene.data_version and a == b
    assert focus_scene(incidents=scene.incidents[:2]).data_version != scene.data_version
