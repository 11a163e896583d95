"""Base rates: the interval against a brute-force Monte Carlo of the two Gamma posteriors (numpy,
no F distribution) and against scipy.stats; the comparison's periods and exposure by hand."""
from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from scipy import stats

from geomap.analysis.baserate import Comparison, base_rate, cap_area, rate_ratio_interval
from geomap.errors import InvalidInput

CASES = [(0, 0, 0.01), (0, 12, 0.02), (3, 2, 0.0083), (1, 40, 0.05), (10, 100, 0.1), (25, 3, 0.5), (4, 400, 0.01)]


@pytest.mark.parametrize(("observed", "baseline", "exposure"), CASES)
def test_the_interval_matches_a_monte_carlo_of_the_gamma_posteriors(observed, baseline, exposure):
    rng = np.random.default_rng(20191227)
    draws = 2_000_000
    # Rates per unit exposure: local exposure `exposure`, baseline exposure 1; Jeffreys' prior.
    local = rng.gamma(observed + 0.5, 1.0, draws) / exposure
    wider = rng.gamma(baseline + 0.5, 1.0, draws)
    reference = np.quantile(local / wider, [0.025, 0.975])
    low, high = rate_ratio_interval(observed, baseline, exposure)
    assert low == pytest.approx(reference[0], rel=0.02)
    assert high == pytest.approx(reference[1], rel=0.02)


@pytest.mark.parametrize(("observed", "baseline", "exposure"), CASES)
def test_the_interval_is_the_f_quantiles_scipy_stats_gives(observed, baseline, exposure):
    f = stats.f(2 * observed + 1, 2 * baseline + 1)
    scale = ((observed + 0.5) / (baseline + 0.5)) / exposure
    assert rate_ratio_interval(observed, baseline, exposure) == pytest.approx(
        (scale * f.ppf(0.025), scale * f.ppf(0.975)), rel=1e-9)


def test_the_interval_covers_the_true_ratio_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    ratio, exposure, wider_rate = 2.0, 0.05, 60.0
    observed = rng.poisson(ratio * wider_rate * exposure, 4000)
    baseline = rng.poisson(wider_rate, 4000)
    covered = np.mean([lo <= ratio <= hi for lo, hi in (rate_ratio_interval(o, b, exposure)
                                                          for o, b in zip(observed, baseline, strict=True))])
    assert 0.93 <= covered <= 0.985


def test_the_comparison_states_its_periods_and_exposure():
    c = Comparison.before(date(2019, 12, 27), 25000, 100000, 90)
    assert (c.window_from, c.window_to) == (date(2019, 9, 28), date(2019, 12, 27))  # 91 days, the focus's own included
    assert (c.baseline_from, c.baseline_to) == (date(2018, 9, 28), date(2019, 9, 27))
    assert (c.baseline_to - c.baseline_from).days + 1 == 365
    # Small caps are nearly flat discs: the area ratio is (25 / 100)² to well under 0.1 %.
    assert c.exposure_ratio == pytest.approx(0.25 ** 2 * 91 / 365, rel=1e-3)


def test_the_cap_area_is_the_spherical_formula():
    r = 6_371_008.8
    assert cap_area(math.pi * r) == pytest.approx(4 * math.pi * r * r)


def test_a_base_rate_is_observed_over_expected():
    c = Comparison.before(date(2019, 12, 27), 25000, 100000, 90)
    rate = base_rate("g", 3, 40, c)
    assert rate.expected == pytest.approx(40 * c.exposure_ratio)
    assert rate.ratio == pytest.approx(3 / rate.expected)
    assert rate.low < rate.ratio < rate.high
    none = base_rate("g", 2, 0, c)
    assert none.expected is None and none.ratio is None and 0 < none.low < none.high


@pytest.mark.parametrize(("local", "region", "window"), [(0, 1000, 10), (2000, 1000, 10), (100, 1000, -1)])
def test_an_impossible_comparison_is_refused(local, region, window):
    with pytest.raises(InvalidInput, match="base rate"):
        Comparison.before(date(2019, 12, 27), local, region, window)
