"""Seeded synthetic conflict data over Iraq and Syria (`geomap synth`, and the benchmarks).

The data look like ACLED's for the region:

- ~200 cluster centres scattered around real hotspots (lon 36..48, lat 30..37.5), each with a
  Gaussian spread of 2..40 km and a heavy-tailed (Pareto) share of the incidents;
- dates over 2012-01-01..2021-12-31: a yearly intensity curve (peaking 2014-2017) plus bursts of
  10..90 days per cluster; intervals mostly one day, some a week, some a month;
- precision like ACLED geo_precision: 1 -> 2 km (55 %), 2 -> 10 km (35 %), 3 -> 50 km (10 %);
- ACLED event/sub-event type pairs, statuses, fatalities (low <= best <= high);
- 10 groups with home regions and active years; 0-2 attribution claims per incident;
- a few reference sites (some incidents target them) and control zones per group and period.

`generate(n, seed)` returns column arrays (numpy, vectorised: a million incidents in seconds).
`geomap.io.synth_files.write_files(directory, n, seed)` writes them as files that `geomap load`
and `geomap import` accept; `bench/synth.py` COPYs them into a database. Everything follows
from `seed`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from geomap.vocabulary import ACLED_EVENT_TYPES, STANCES

SYNTH_VERSION = 1  # bump when the generator changes, so old builds are not reused
EPOCH = np.datetime64("2012-01-01")
DAYS = 3653  # 2012-01-01 .. 2021-12-31
YEARS = 10
LON_BOX, LAT_BOX = (36.0, 48.0), (30.0, 37.5)
KM_PER_DEG = 111.32
PRECISIONS = (2000.0, 10000.0, 50000.0)  # ACLED geo_precision 1, 2, 3
PRECISION_P = (0.55, 0.35, 0.10)
YEAR_INTENSITY = (0.6, 1.0, 1.6, 1.8, 1.7, 1.5, 0.9, 0.8, 0.6, 0.5)
EVENT_TYPE_P = {"Explosions/Remote violence": 0.40, "Battles": 0.25, "Violence against civilians": 0.15,
                "Strategic developments": 0.10, "Protests": 0.08, "Riots": 0.02}
STATUS_P = {"confirmed": 0.6, "reported": 0.3, "estimate": 0.1}
CLAIMS_P = (0.3, 0.5, 0.2)  # 0, 1 or 2 claims per incident
FIRST_STANCE_P = (0.30, 0.25, 0.35, 0.05, 0.05)  # in STANCES order
CLAIMANTS = ("Group statement", "Security Media Cell", "SOHR", "Talos Iraq", "Local officials", "Coalition")
AFFINITY_KM = 150.0

# name, lon, lat, country, admin1, weight
HOTSPOTS = [
    ("Baghdad", 44.366, 33.315, "Iraq", "Baghdad", 3.0), ("Mosul", 43.130, 36.340, "Iraq", "Ninewa", 3.0),
    ("Kirkuk", 44.392, 35.468, "Iraq", "Kirkuk", 1.5), ("Hawija", 43.767, 35.317, "Iraq", "Kirkuk", 1.0),
    ("Ramadi", 43.300, 33.420, "Iraq", "Anbar", 2.0), ("Fallujah", 43.779, 33.349, "Iraq", "Anbar", 1.5),
    ("Haditha", 42.370, 34.130, "Iraq", "Anbar", 1.0), ("Al-Qaim", 41.050, 34.370, "Iraq", "Anbar", 1.0),
    ("Hit", 42.827, 33.638, "Iraq", "Anbar", 1.0), ("Rutba", 40.284, 33.036, "Iraq", "Anbar", 0.5),
    ("Tikrit", 43.679, 34.600, "Iraq", "Salah al-Din", 1.0), ("Samarra", 43.874, 34.198, "Iraq", "Salah al-Din", 1.0),
    ("Baiji", 43.487, 34.929, "Iraq", "Salah al-Din", 1.0), ("Balad", 44.145, 34.016, "Iraq", "Salah al-Din", 0.8),
    ("Tuz Khurmatu", 44.633, 34.886, "Iraq", "Salah al-Din", 1.0), ("Baqubah", 44.655, 33.750, "Iraq", "Diyala", 1.5),
    ("Khanaqin", 45.383, 34.348, "Iraq", "Diyala", 0.8), ("Muqdadiyah", 44.935, 33.978, "Iraq", "Diyala", 1.0),
    ("Tal Afar", 42.450, 36.374, "Iraq", "Ninewa", 1.0), ("Sinjar", 41.870, 36.320, "Iraq", "Ninewa", 1.0),
    ("Erbil", 44.009, 36.191, "Iraq", "Erbil", 0.8), ("Sulaymaniyah", 45.435, 35.557, "Iraq", "Sulaymaniyah", 0.6),
    ("Karbala", 44.025, 32.616, "Iraq", "Karbala", 0.6), ("Najaf", 44.336, 32.000, "Iraq", "Najaf", 0.6),
    ("Hillah", 44.420, 32.480, "Iraq", "Babil", 0.8), ("Jurf al-Sakhar", 44.130, 32.880, "Iraq", "Babil", 0.8),
    ("Kut", 45.820, 32.500, "Iraq", "Wasit", 0.6), ("Amarah", 47.150, 31.840, "Iraq", "Maysan", 0.5),
    ("Nasiriyah", 46.260, 31.050, "Iraq", "Dhi Qar", 0.8), ("Basra", 47.780, 30.510, "Iraq", "Basra", 1.0),
    ("Aleppo", 37.160, 36.200, "Syria", "Aleppo", 3.0), ("Idlib", 36.633, 35.930, "Syria", "Idlib", 3.0),
    ("Maarat al-Numan", 36.675, 35.645, "Syria", "Idlib", 1.5), ("Hama", 36.750, 35.135, "Syria", "Hama", 2.0),
    ("Homs", 36.720, 34.730, "Syria", "Homs", 1.5), ("Palmyra", 38.267, 34.560, "Syria", "Homs", 1.0),
    ("Damascus", 36.292, 33.513, "Syria", "Damascus", 2.0),
    ("Eastern Ghouta", 36.420, 33.540, "Syria", "Rif Dimashq", 2.0),
    ("Daraa", 36.100, 32.625, "Syria", "Daraa", 2.0), ("Raqqa", 39.010, 35.950, "Syria", "Raqqa", 2.0),
    ("Tabqa", 38.550, 35.840, "Syria", "Raqqa", 1.0), ("Deir ez-Zor", 40.140, 35.336, "Syria", "Deir ez-Zor", 2.0),
    ("Al-Bukamal", 40.920, 34.450, "Syria", "Deir ez-Zor", 1.0), ("Mayadin", 40.450, 35.020, "Syria", "Deir ez-Zor", 1.0),
    ("Hasakah", 40.750, 36.500, "Syria", "Hasakah", 1.0), ("Qamishli", 41.230, 37.050, "Syria", "Hasakah", 0.8),
    ("Ras al-Ayn", 40.070, 36.850, "Syria", "Hasakah", 0.8), ("Kobani", 38.360, 36.890, "Syria", "Aleppo", 0.8),
    ("Manbij", 37.950, 36.530, "Syria", "Aleppo", 1.0), ("Afrin", 36.870, 36.510, "Syria", "Aleppo", 1.0),
    ("Al-Bab", 37.517, 36.370, "Syria", "Aleppo", 1.0),
]
HOTSPOT_INDEX = {h[0]: i for i, h in enumerate(HOTSPOTS)}

# id, name, kind, color, home hotspots, activity by year 2012..2021
GROUPS = [
    ("islamic-state", "Islamic State", "insurgent", "#d55e00",
     ("Mosul", "Raqqa", "Deir ez-Zor", "Ramadi", "Fallujah", "Hawija", "Tikrit", "Baiji", "Al-Bukamal",
      "Palmyra", "Tal Afar", "Sinjar", "Baqubah", "Kirkuk"), (0.5, 1, 3, 3, 3, 2.5, 1.5, 1, 0.8, 0.6)),
    ("kataib-hezbollah", "Kata'ib Hezbollah", "militia", "#009e73",
     ("Jurf al-Sakhar", "Baghdad", "Al-Qaim", "Al-Bukamal", "Balad", "Tuz Khurmatu", "Karbala", "Samarra"),
     (0.3, 0.5, 1.5, 1.5, 1.5, 1.2, 1, 1.5, 1.5, 1.2)),
    ("iraqi-security-forces", "Iraqi Security Forces", "state_force", "#56b4e9",
     ("Baghdad", "Mosul", "Ramadi", "Fallujah", "Tikrit", "Samarra", "Kirkuk", "Baqubah", "Basra", "Najaf",
      "Kut", "Nasiriyah", "Amarah"), (1, 1, 1.5, 1.5, 1.5, 1.5, 1, 1, 1, 1)),
    ("peshmerga", "Kurdish Peshmerga", "militia", "#f0e442",
     ("Erbil", "Sulaymaniyah", "Kirkuk", "Sinjar", "Khanaqin", "Mosul"), (0.5, 0.5, 1.5, 1.5, 1.2, 1, 0.6, 0.5, 0.5, 0.5)),
    ("syrian-arab-army", "Syrian Arab Army", "state_force", "#cc79a7",
     ("Damascus", "Eastern Ghouta", "Homs", "Hama", "Aleppo", "Daraa", "Palmyra", "Deir ez-Zor", "Idlib"),
     (2, 2, 2, 2, 2, 2, 1.5, 1.2, 1, 1)),
    ("sdf", "Syrian Democratic Forces", "militia", "#e69f00",
     ("Hasakah", "Qamishli", "Raqqa", "Tabqa", "Kobani", "Manbij", "Deir ez-Zor"), (0, 0.3, 0.8, 1.5, 2, 2, 1.5, 1, 1, 1)),
    ("hayat-tahrir-al-sham", "Hayat Tahrir al-Sham", "insurgent", "#999999",
     ("Idlib", "Maarat al-Numan", "Aleppo", "Hama"), (0.3, 0.6, 0.8, 1, 1.2, 1.5, 1.5, 1.5, 1.2, 1)),
    ("turkish-armed-forces", "Turkish Armed Forces", "state_force", "#a6761d",
     ("Afrin", "Al-Bab", "Ras al-Ayn", "Kobani", "Sinjar", "Manbij"), (0.1, 0.1, 0.2, 0.5, 1, 1.2, 2, 1.5, 1.2, 1)),
    ("united-states", "United States armed forces", "state_force", "#0072b2",
     ("Baghdad", "Erbil", "Raqqa", "Deir ez-Zor", "Al-Qaim", "Mosul", "Hasakah"), (0.2, 0.2, 1, 1.5, 1.5, 1.5, 0.8, 0.6, 0.6, 0.3)),
    ("russian-armed-forces", "Russian armed forces", "state_force", "#7570b3",
     ("Idlib", "Hama", "Aleppo", "Homs", "Palmyra", "Deir ez-Zor"), (0, 0, 0, 0.5, 2, 1.5, 1, 1, 0.8, 0.6)),
]

# id, name, kind, lon, lat
SITES = [
    ("k1-air-base", "K-1 Air Base", "air_base", 44.28417, 35.5125),
    ("ain-al-asad", "Ain al-Asad Air Base", "air_base", 42.441, 33.786),
    ("balad-air-base", "Balad Air Base", "air_base", 44.362, 33.940),
    ("baghdad-airport", "Baghdad International Airport", "airport", 44.234, 33.262),
    ("us-embassy-baghdad", "US Embassy Baghdad", "embassy", 44.388, 33.298),
    ("erbil-airport", "Erbil International Airport", "airport", 43.963, 36.237),
    ("taqaddum-air-base", "Al-Taqaddum Air Base", "air_base", 43.597, 33.338),
    ("qayyarah-west", "Qayyarah West Airfield", "air_base", 43.125, 35.767),
    ("kuweires-air-base", "Kuweires Air Base", "air_base", 37.583, 36.187),
    ("shayrat-air-base", "Shayrat Air Base", "air_base", 36.909, 34.490),
    ("t4-air-base", "Tiyas (T-4) Air Base", "air_base", 37.628, 34.523),
    ("al-tanf", "Al-Tanf garrison", "other", 38.634, 33.502),
]
TARGET_KM = 15.0
TARGET_P = 0.3


@dataclass
class Data:
    """Column arrays of the incidents (sorted by date, as they would arrive) and their claims."""

    lon: np.ndarray
    lat: np.ndarray
    hotspot: np.ndarray
    day_start: np.ndarray
    day_end: np.ndarray
    precision: np.ndarray
    pair: np.ndarray  # index into PAIRS
    status: np.ndarray
    fat_low: np.ndarray
    fat_best: np.ndarray
    fat_high: np.ndarray
    injured: np.ndarray  # -1 = null
    target: np.ndarray  # index into SITES, -1 = none
    claim_incident: np.ndarray  # per claim: incident index
    claim_position: np.ndarray
    claim_group: np.ndarray
    claim_stance: np.ndarray
    claim_claimant: np.ndarray


PAIRS = [(t, s) for t, subs in ACLED_EVENT_TYPES.items() for s in subs]


def _pair_probabilities() -> np.ndarray:
    probs = []
    for event_type, subs in ACLED_EVENT_TYPES.items():
        weights = np.linspace(2.0, 1.0, len(subs))  # the first sub-types are the commonest
        probs.extend(EVENT_TYPE_P[event_type] * weights / weights.sum())
    return np.asarray(probs)


def _reflect(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    values = np.where(values < lo, 2 * lo - values, values)
    values = np.where(values > hi, 2 * hi - values, values)
    return np.clip(values, lo, hi)


def _offset(rng, lon, lat, sigma_km):
    """Points at a Gaussian offset of `sigma_km` from (lon, lat), kept inside the box."""
    dy = rng.normal(0.0, 1.0, np.shape(lon)) * sigma_km / KM_PER_DEG
    dx = rng.normal(0.0, 1.0, np.shape(lon)) * sigma_km / (KM_PER_DEG * np.cos(np.radians(lat)))
    return _reflect(lon + dx, *LON_BOX), _reflect(lat + dy, *LAT_BOX)


def _km(lon1, lat1, lon2, lat2):
    """Equirectangular distance in km: good enough to shape synthetic data."""
    x = (lon2 - lon1) * np.cos(np.radians((lat1 + lat2) / 2))
    return KM_PER_DEG * np.hypot(x, lat2 - lat1)


def _categorical(rng, probs: np.ndarray) -> np.ndarray:
    """One draw per row of `probs` (rows sum to 1)."""
    cumulative = np.cumsum(probs, axis=1)
    draws = rng.random(len(probs))[:, None] * cumulative[:, -1:]
    return np.minimum((draws > cumulative).sum(axis=1), probs.shape[1] - 1)


def _clusters(rng, n_clusters: int):
    weights = np.array([h[5] for h in HOTSPOTS])
    hotspot = rng.choice(len(HOTSPOTS), n_clusters, p=weights / weights.sum())
    hlon = np.array([HOTSPOTS[h][1] for h in hotspot])
    hlat = np.array([HOTSPOTS[h][2] for h in hotspot])
    wide = rng.random(n_clusters) < 0.15  # some clusters sit out in the countryside
    clon, clat = _offset(rng, hlon, hlat, np.where(wide, 80.0, 20.0))
    sigma = np.exp(rng.uniform(math.log(2.0), math.log(40.0), n_clusters))
    share = rng.pareto(1.2, n_clusters) + 1.0  # heavy tail: a few clusters hold most incidents
    return hotspot, clon, clat, sigma, share / share.sum()


def _days(rng, cluster: np.ndarray, n_clusters: int) -> np.ndarray:
    """Start days: half from per-cluster bursts, half from the yearly intensity curve."""
    daily = np.repeat(YEAR_INTENSITY, 366)[:DAYS]
    background = rng.choice(DAYS, len(cluster), p=daily / daily.sum())
    n_bursts = rng.integers(1, 7, n_clusters)
    centres = rng.choice(DAYS, (n_clusters, 6), p=daily / daily.sum())
    spreads = rng.uniform(10.0, 90.0, (n_clusters, 6))
    which = (rng.random(len(cluster)) * n_bursts[cluster]).astype(int)
    burst = centres[cluster, which] + rng.normal(0.0, 1.0, len(cluster)) * spreads[cluster, which]
    days = np.where(rng.random(len(cluster)) < 0.5, burst, background)
    return np.round(_reflect(days, 0, DAYS - 1)).astype(np.int64)


def _affinity(clon: np.ndarray, clat: np.ndarray) -> np.ndarray:
    """Cluster x group: how much each group operates around each cluster centre."""
    out = np.zeros((len(clon), len(GROUPS)))
    for g, group in enumerate(GROUPS):
        for name in group[4]:
            _, hlon, hlat, *_ = HOTSPOTS[HOTSPOT_INDEX[name]]
            out[:, g] += np.exp(-_km(clon, clat, hlon, hlat) / AFFINITY_KM)
    return out


def _claims(rng, cluster, year, clon, clat):
    n = len(cluster)
    activity = np.array([g[5] for g in GROUPS]).T  # year x group
    weights = _affinity(clon, clat)[cluster] * activity[year] + 1e-3
    probs = weights / weights.sum(axis=1, keepdims=True)
    count = rng.choice(3, n, p=CLAIMS_P)
    first = _categorical(rng, probs)
    second = np.where(rng.random(n) < 0.5, first, _categorical(rng, probs))
    stance1 = rng.choice(len(STANCES), n, p=FIRST_STANCE_P)
    # A second claim on the same group is its denial or a dispute; on another, any stance.
    stance2 = np.where(second == first, rng.choice([3, 4], n), rng.choice(len(STANCES), n, p=FIRST_STANCE_P))
    has1, has2 = count >= 1, count >= 2
    incident = np.concatenate([np.flatnonzero(has1), np.flatnonzero(has2)])
    position = np.concatenate([np.zeros(has1.sum(), int), np.ones(has2.sum(), int)])
    group = np.concatenate([first[has1], second[has2]])
    stance = np.concatenate([stance1[has1], stance2[has2]])
    order = np.lexsort((position, incident))
    claimant = rng.integers(0, len(CLAIMANTS), len(incident))
    return incident[order], position[order], group[order], stance[order], claimant


def _targets(rng, lon, lat, pair) -> np.ndarray:
    """Some explosions near a site target it."""
    target = np.full(len(lon), -1)
    best = np.full(len(lon), np.inf)
    for s, site in enumerate(SITES):
        km = _km(lon, lat, site[3], site[4])
        closer = km < best
        target[closer], best[closer] = s, km[closer]
    explosive = np.isin(pair, [i for i, p in enumerate(PAIRS) if p[0] == "Explosions/Remote violence"])
    chosen = explosive & (best <= TARGET_KM) & (rng.random(len(lon)) < TARGET_P)
    return np.where(chosen, target, -1)


def _fatalities(rng, pair, n):
    violent = np.isin(np.array([p[0] for p in PAIRS])[pair], ["Battles", "Explosions/Remote violence",
                                                              "Violence against civilians"])
    best = np.where(violent, rng.geometric(0.35, n) - 1, 0)
    low = best - rng.binomial(best, 0.3)
    high = best + rng.geometric(0.5, n) - 1
    injured = np.where(rng.random(n) < 0.5, -1, rng.geometric(0.3, n) - 1)
    return low, best, high, injured


def generate(n: int, seed: int, n_clusters: int = 200) -> Data:
    """N incidents and their claims, fully determined by `seed`."""
    rng = np.random.default_rng(seed)
    hotspot, clon, clat, sigma, share = _clusters(rng, n_clusters)
    cluster = rng.choice(n_clusters, n, p=share)
    lon, lat = _offset(rng, clon[cluster], clat[cluster], sigma[cluster])
    day_start = _days(rng, cluster, n_clusters)
    kind = rng.choice(3, n, p=(0.85, 0.10, 0.05))
    day_end = day_start + np.array([0, 6, 29])[kind]
    precision = np.asarray(PRECISIONS)[rng.choice(3, n, p=PRECISION_P)]
    pair = rng.choice(len(PAIRS), n, p=_pair_probabilities())
    status = rng.choice(len(STATUS_P), n, p=list(STATUS_P.values()))
    low, best, high, injured = _fatalities(rng, pair, n)
    target = _targets(rng, lon, lat, pair)
    year = np.minimum(day_start // 365.25, YEARS - 1).astype(int)
    order = np.argsort(day_start, kind="stable")  # ids follow arrival order, as in real feeds
    rank = np.empty(n, int)
    rank[order] = np.arange(n)
    c_inc, c_pos, c_group, c_stance, c_claimant = _claims(rng, cluster, year, clon, clat)
    c_inc = rank[c_inc]
    c_order = np.lexsort((c_pos, c_inc))
    return Data(lon[order], lat[order], hotspot[cluster][order], day_start[order], day_end[order],
                precision[order], pair[order], status[order], low[order], best[order], high[order],
                injured[order], target[order], c_inc[c_order], c_pos[c_order], c_group[c_order],
                c_stance[c_order], c_claimant[c_order])


def incident_id(i: int) -> str:
    """The id of synthetic incident number `i`, zero-padded so that ids sort in the order they were made."""
    return f"syn-{i:07d}"


# -- control zones -------------------------------------------------------------------------------

ZONE_PERIODS = (("2012-01-01", "2014-06-30"), ("2014-07-01", "2017-12-31"), ("2018-01-01", None))
ZONE_KINDS = ("control", "presence", "activity")


@dataclass(frozen=True)
class Zone:
    """A synthetic control zone: group, kind, validity (ISO dates; no end: still), outline as a closed lon/lat ring."""

    id: str
    name: str
    group: str
    kind: str
    valid_from: str
    valid_to: str | None
    ring: list[list[float]]  # closed, counter-clockwise, (lon, lat)


def zone_ring(rng, lon: float, lat: float, radius_km: float) -> list[list[float]]:
    """A star-shaped (so simple and valid) 16-gon around (lon, lat), counter-clockwise."""
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    radii = radius_km * rng.uniform(0.6, 1.0, 16)
    xs = lon + radii * np.cos(angles) / (KM_PER_DEG * math.cos(math.radians(lat)))
    ys = lat + radii * np.sin(angles) / KM_PER_DEG
    ring = [[round(x, 5), round(y, 5)] for x, y in zip(xs.tolist(), ys.tolist(), strict=True)]
    return ring + [ring[0]]


def zones(seed: int) -> list[Zone]:
    """Three zones per group around its first homes, one for each period."""
    rng = np.random.default_rng(seed + 7919)
    found = []
    for gid, name, *_, homes, _ in GROUPS:
        for h, home in enumerate(homes[:3]):
            _, lon, lat, *_ = HOTSPOTS[HOTSPOT_INDEX[home]]
            for p, (valid_from, valid_to) in enumerate(ZONE_PERIODS):
                ring = zone_ring(rng, lon, lat, float(rng.uniform(20, 80)))
                found.append(Zone(f"{gid}-{h}-{p}", f"{name} around {home} ({valid_from[:4]}-{(valid_to or '')[:4]})",
                                  gid, ZONE_KINDS[h], valid_from, valid_to, ring))
    return found
