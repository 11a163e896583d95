"""Stories over HTTP and the CLI, on the seed data: the K-1 chain as six steps in date order
(dates from seed-facts.md rows 1, 7, 9, 10, 11-12 and 13), each step's text with its sources,
one self-contained page, the print strip, and every bad request a 4xx problem naming it."""
from __future__ import annotations

import re
from io import BytesIO

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from geomap.cli import main

K1 = "k1-rocket-attack-2019-12-27"
STEPS = [  # (start date, the incidents of the step): seed-facts.md section 1
    ("2019-12-27", {K1}),
    ("2019-12-29", {"us-strike-al-qaim-1-2019-12-29", "us-strike-al-qaim-2-2019-12-29", "us-strike-al-qaim-3-2019-12-29",
                    "us-strike-abu-kamal-1-2019-12-29", "us-strike-abu-kamal-2-2019-12-29"}),
    ("2019-12-31", {"us-embassy-storming-2019-12-31"}),
    ("2020-01-03", {"baghdad-airport-drone-strike-2020-01-03"}),
    ("2020-01-08", {"iran-missile-strike-ain-al-asad-2020-01-08", "iran-missile-strike-erbil-2020-01-08",
                    "iran-missile-impact-bardarash-2020-01-08"}),
    ("2020-01-08", {"ps752-shootdown-2020-01-08"}),
]


@pytest.fixture(scope="module")
def client(seeded_app):
    return seeded_app.test_client()


@pytest.fixture(scope="module")
def story(client):
    response = client.get(f"/stories/{K1}?f=json")
    assert response.status_code == 200, response.data
    return response.get_json()


def test_the_seed_has_one_story_named_by_its_first_incident(client):
    body = client.get("/stories").get_json()
    assert [(s["id"], s["start"], s["end"], s["incidents"]) for s in body["stories"]] == [
        (K1, "2019-12-27", "2020-01-08", 12)]
    page = client.get("/stories?f=html")
    assert page.status_code == 200 and f'href="/stories/{K1}"'.encode() in page.data


def test_the_k1_chain_is_six_steps_in_date_order(story):
    assert [(s["start"], {i["id"] for i in s["incidents"]}) for s in story["steps"]] == STEPS
    assert [s["number"] for s in story["steps"]] == [1, 2, 3, 4, 5, 6]


def test_each_step_says_why_it_follows_with_the_links_sources(story):
    kinds = [sorted({k["kind"] for k in s["links"]}) for s in story["steps"]]
    assert kinds == [[], ["response_to"], ["response_to"], ["precedes"], ["part_of", "response_to"], ["precedes"]]
    for step in story["steps"][1:]:
        assert all(k["sources"] and k["notes"] for k in step["links"])


def test_the_page_is_one_self_contained_document_with_every_step_and_source(client, story):
    response = client.get(f"/stories/{K1}")
    page = response.data.decode()
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert len(response.data) < 2_000_000
    assert not re.search(r"<(script|img|iframe)[^>]* src=|<link[^>]* href=\"(?!data:)", page)  # nothing fetched
    assert page.count('class="gs-step"') == 6 and page.count('class="gs-tick"') == 6
    for step in story["steps"]:
        for item in [*step["incidents"], *step["links"]]:
            for source in item["sources"]:
                assert f'href="{source["url"].replace("&", "&amp;")}"' in page, source["url"]
    assert "Data version " + story["data_version"] in page


def test_embed_gives_the_compact_page(client):
    page = client.get(f"/stories/{K1}?embed=1").data.decode()
    assert 'class="gs-page gs-embed"' in page


@pytest.mark.parametrize("url, status, words", [
    ("/stories/us-embassy-storming-2019-12-31", 404, f"a step of the story '{K1}'"),
    ("/stories/nowhere", 404, "no story 'nowhere'"),
    (f"/stories/{K1}?f=xml", 400, "f: must be html or json"),
    (f"/stories/{K1}?embed=2", 400, "embed: must be 1 or 0"),
    (f"/stories/{K1}?zoom=3", 400, "zoom"),
    (f"/stories/{K1}.png?preset=poster", 400, "preset: must be one of"),
    (f"/stories/{K1}.png?dpi=9000", 400, "dpi: must be between"),
    ("/stories?bbox=1,2,3,4", 400, "bbox"),
])
def test_bad_requests_are_problems_naming_what_is_wrong(client, url, status, words):
    response = client.get(url)
    assert response.status_code == status and response.mimetype == "application/problem+json", response.data
    assert words in response.get_json()["detail"]


def test_the_print_strip_in_png_svg_and_pdf(client, story):
    png = client.get(f"/stories/{K1}.png?preset=social")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    svg = client.get(f"/stories/{K1}.svg?preset=a4").data.decode()
    for n in range(1, 7):
        assert f'id="step-{n}"' in svg and f'id="step-{n}-title"' in svg
    pdf = client.get(f"/stories/{K1}.pdf?preset=a4")
    assert pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf.data)).pages)
    assert "Data version " + story["data_version"] in text and "27 Dec 2019" in text


def test_the_landing_page_leads_to_the_maps_and_the_stories(client):
    page = client.get("/?f=html").data.decode()
    assert 'href="/maps"' in page and 'href="/stories?f=html"' in page


def test_cli_writes_the_story_and_its_strip(seeded_app, tmp_path):
    env = {"DATABASE_URL": seeded_app.extensions["geomap.settings"].database_url,
           "GEOMAP_PUBLIC_URL": "https://geomap.example"}
    runner = CliRunner()
    result = runner.invoke(main, ["story", K1, "-o", str(tmp_path / "story.html")], env=env)
    assert result.exit_code == 0 and "6 steps" in result.output, result.output
    html = (tmp_path / "story.html").read_text()
    assert "<script src=" not in html and 'class="gs-step"' in html
    result = runner.invoke(main, ["story", K1, "--preset", "social", "-o", str(tmp_path / "strip.png")], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "strip.png").read_bytes()[:4] == b"\x89PNG"
    svg = runner.invoke(main, ["story", K1, "--preset", "a4", "-o", str(tmp_path / "strip.svg")], env=env)
    assert svg.exit_code == 0 and "geomap.example/stories/" + K1 in (tmp_path / "strip.svg").read_text()
    bad = runner.invoke(main, ["story", "nowhere", "-o", str(tmp_path / "x.html")], env=env)
    assert bad.exit_code == 1 and "no story 'nowhere'" in bad.output
    assert runner.invoke(main, ["story", K1, "-o", str(tmp_path / "x.gif")], env=env).exit_code == 2
    assert runner.invoke(main, ["story", K1, "--dpi", "100", "-o", str(tmp_path / "x.html")], env=env).exit_code == 2


def test_outputs_name_the_public_address_never_the_one_the_request_came_to(seeded_app):
    from geomap import create_app

    app = create_app({"DATABASE_URL": seeded_app.extensions["geomap.settings"].database_url,
                      "GEOMAP_PUBLIC_URL": "https://geomap.example/news"})
    client = app.test_client()
    public = f"https://geomap.example/news/stories/{K1}"
    try:
        page = client.get(f"/stories/{K1}?embed=1", base_url="http://127.0.0.1:5491").data.decode()
        svg = client.get(f"/stories/{K1}.svg?preset=social", base_url="http://127.0.0.1:5491").data.decode()
        listed = client.get("/stories", base_url="http://10.0.0.7:8000").get_json()["stories"][0]["links"]
    finally:
        app.extensions["geomap.engine"].dispose()
    assert f'href="{public}"' in page  # the credit's "full list" and "Open the full story"
    assert f"geomap.example/news/stories/{K1}" in svg or "geomap.example/news" in svg
    assert listed["page"] == public and listed["embed"] == public + "?embed=1"
    for text in (page, svg, str(listed)):
        assert "127.0.0.1" not in text and "10.0.0.7" not in text and "localhost" not in text
