"""Stories as plain data (no database): chains named by their first incident, steps grouped and
ordered as `geomap.layers.story` says, and the print strip's texts all inside the canvas and off
each other at every size the map graphics are tested at (the same check as test_print's)."""
from __future__ import annotations

from datetime import date

import pytest
from builders import assert_texts_fit
from matplotlib import rc_context
from scenes import GROUPS, XSS, incident
from test_print import SIZES

from geomap.errors import BadRequest
from geomap.layers.graphic import RC
from geomap.layers.size import Size
from geomap.layers.story import Story, StoryLink, chains, steps
from geomap.layers.storystrip import draw_strip, render_strip
from geomap.layers.textfit import visible_texts

SOURCE = {"title": "Report", "url": "https://example.org/r"}


def link(lid: str, kind: str, subject: str, obj: str) -> StoryLink:
    return StoryLink(lid, kind, subject, obj, (SOURCE,), f"note {lid}")


# A chain shaped like the K-1 one: an attack, two strikes answering it on one day, a protest
# answering both, an impact part of the second strike, and a later event the first strike precedes
# on the strikes' own day.
INCIDENTS = [incident("attack", 44.2, 35.5, date(2019, 12, 27), precision=8000, claims=(("islamic-state", "accused"),)),
             incident("strike-b", 41.1, 34.4, date(2019, 12, 29)), incident("strike-a", 40.9, 34.5, date(2019, 12, 29)),
             incident("protest", 44.4, 33.3, date(2019, 12, 31), end=date(2020, 1, 1)),
             incident("impact", 41.0, 34.6, date(2019, 12, 29)), incident("later", 44.0, 33.0, date(2019, 12, 29))]
LINKS = [link("a1", "response_to", "strike-a", "attack"), link("b1", "response_to", "strike-b", "attack"),
         link("p1", "response_to", "protest", "strike-a"), link("p2", "response_to", "protest", "strike-b"),
         link("i1", "part_of", "impact", "strike-b"), link("l1", "precedes", "strike-a", "later")]


def test_a_chain_is_named_by_its_first_incident_and_holds_every_linked_one():
    starts = {i.id: i.date_start for i in INCIDENTS} | {"x": date(2020, 5, 1), "y": date(2020, 4, 1)}
    found = chains([*LINKS, link("xy", "precedes", "y", "x")], starts)
    assert list(found) == ["attack", "y"]
    assert set(found["attack"]) == {i.id for i in INCIDENTS} and found["y"] == ["y", "x"]


def test_steps_group_one_event_and_go_in_date_then_link_order():
    made = steps(INCIDENTS, LINKS)
    assert [[i.id for i in s.incidents] for s in made] == [
        ["attack"], ["strike-a", "strike-b", "impact"], ["later"], ["protest"]]
    assert [s.number for s in made] == [1, 2, 3, 4]
    assert [k.id for k in made[1].links] == ["a1", "b1", "i1"] and [k.id for k in made[3].links] == ["p1", "p2"]
    assert made[1].title == "Incident strike-a (and 2 more)" and made[3].end == date(2020, 1, 1)


def story(title: str = "Story") -> Story:
    return Story("attack", title, steps(INCIDENTS, LINKS), {"page": "https://geomap.example/stories/attack"},
                 "abc123", GROUPS)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("title", ["Story", f"A very long title of a story {XSS} " * 4])
def test_every_strip_text_is_inside_the_canvas_and_off_every_other(size, title):
    with rc_context(RC):
        figure = draw_strip(story(title), size)
        renderer = figure.canvas.get_renderer()
        texts = visible_texts(figure)
    assert_texts_fit(figure, renderer, texts)
    assert min(t.get_fontsize() for t in texts) * size.dpi / 72 >= 14 - 1e-9


def test_a4_strip_shows_every_step_numbered_and_the_public_credit():
    size = Size.parse(preset="a4")
    svg = render_strip(story(), "svg", size).decode()
    for n in range(1, 5):
        assert f'id="step-{n}"' in svg and f'id="step-{n}-date"' in svg
    assert "geomap.example/stories/attack" in svg and "Data version abc123" in svg
    with pytest.raises(BadRequest, match="format"):
        render_strip(story(), "gif", size)
