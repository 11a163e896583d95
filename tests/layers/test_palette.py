"""One palette for groups: every pair in use distinct for normal vision and under the common
colour-vision deficiencies, measured in CAM02-UCS (colorspacious: CIECAM02-UCS distances and
Machado et al.'s 2009 CVD simulation) rather than by eye or in RGB."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from colorspacious import cspace_convert, deltaE
from conftest import ROOT
from matplotlib.colors import to_rgb
from scenes import focus_scene

from geomap.layers.style import (
    CONTESTED_COLOR,
    GROUP_PALETTE,
    UNATTRIBUTED_COLOR,
    UNCERTAINTY_COLOR,
    precision_mark,
    uncertainty_mark,
    zone_mark,
)

VISION = [None, "deuteranomaly", "protanomaly", "tritanomaly"]  # full severity: -opia
MIN_NORMAL, MIN_CVD = 25.0, 11.0  # CAM02-UCS; the issue's two oranges (#d55e00, #e69f00) are 21.6 apart
SEED_GROUPS = {g["id"]: g["color"] for g in json.loads((ROOT / "data" / "groups.json").read_text())["groups"]}


def seen(color: str, vision: str | None) -> np.ndarray:
    rgb = np.array(to_rgb(color))
    if vision is not None:
        rgb = np.clip(cspace_convert(rgb, {"name": "sRGB1+CVD", "cvd_type": vision, "severity": 100}, "sRGB1"), 0, 1)
    return rgb


def distance(a: str, b: str, vision: str | None) -> float:
    return float(deltaE(seen(a, vision), seen(b, vision), input_space="sRGB1", uniform_space="CAM02-UCS"))


IN_USE = sorted(set(GROUP_PALETTE) | {CONTESTED_COLOR, UNATTRIBUTED_COLOR})


@pytest.mark.parametrize("vision", VISION, ids=lambda v: v or "normal")
@pytest.mark.parametrize("a, b", list(itertools.combinations(IN_USE, 2)))
def test_every_pair_of_colours_in_use_is_distinct(a, b, vision):
    assert distance(a, b, vision) >= (MIN_NORMAL if vision is None else MIN_CVD)


def test_the_threshold_refuses_the_two_oranges_of_issue_15():
    assert distance("#d55e00", "#e69f00", None) < MIN_NORMAL


def test_the_seed_groups_use_the_palette_each_its_own_colour():
    assert set(SEED_GROUPS.values()) <= set(GROUP_PALETTE)
    assert len(set(SEED_GROUPS.values())) == len(SEED_GROUPS)


def test_uncertainty_circles_are_grey_and_lighter_when_coarse():
    scene = focus_scene()
    zone_colours = {zone_mark(scene, z).color for z in scene.zones} | set(GROUP_PALETTE)
    for incident in scene.incidents:
        assert uncertainty_mark(scene, incident).color == UNCERTAINTY_COLOR not in zone_colours
    fine, district = precision_mark(1000), precision_mark(35000)
    assert district.fill_opacity < fine.fill_opacity and district.weight < fine.weight
