"""Controlled vocabularies: ACLED's event types and geomap's own enumerations.

One definition each, used by the schema's check constraints and by input validation.
"""
from __future__ import annotations

# ACLED codebook: event_type -> its sub_event_types.
ACLED_EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "Battles": ("Armed clash", "Government regains territory", "Non-state actor overtakes territory"),
    "Explosions/Remote violence": (
        "Chemical weapon", "Air/drone strike", "Suicide bomb", "Shelling/artillery/missile attack",
        "Remote explosive/landmine/IED", "Grenade",
    ),
    "Violence against civilians": ("Sexual violence", "Attack", "Abduction/forced disappearance"),
    "Protests": ("Peaceful protest", "Protest with intervention", "Excessive force against protesters"),
    "Riots": ("Violent demonstration", "Mob violence"),
    "Strategic developments": (
        "Agreement", "Arrests", "Change to group/activity", "Disrupted weapons use",
        "Headquarters or base established", "Looting/property destruction",
        "Non-violent transfer of territory", "Other",
    ),
}
SUB_EVENT_TYPES: tuple[str, ...] = tuple(s for subs in ACLED_EVENT_TYPES.values() for s in subs)

STATUSES = ("confirmed", "reported", "estimate")
STANCES = ("claimed", "accused", "assessed", "disputed", "denied")
# Stances that attribute an incident to a group; "disputed" and "denied" name it without doing so.
AFFIRMATIVE_STANCES = ("claimed", "accused", "assessed")
GROUP_KINDS = ("state_force", "militia", "insurgent", "civilian", "other")
SITE_KINDS = ("air_base", "airport", "embassy", "city", "other")
ZONE_KINDS = ("control", "presence", "activity")
CONFIDENCES = ("low", "medium", "high")
ROLES = ("viewer", "editor", "admin")
# Relations between two features (DESIGN.md decision 10): constraints on where the subject lies
# relative to the object, provenance of a location, and links between events (story maps).
LOCATION_RELATIONS = ("within", "beyond", "bearing", "inside")
EVENT_RELATIONS = ("precedes", "response_to", "part_of")
RELATION_KINDS = (*LOCATION_RELATIONS, "derived_from", *EVENT_RELATIONS)
# What each kind may relate: the subject's collections, then the object's.
RELATION_ENDS = {
    **{kind: (("incidents", "sites"), ("incidents", "sites")) for kind in ("within", "beyond", "bearing")},
    "inside": (("incidents", "sites"), ("control_zones",)),
    "derived_from": (("incidents", "sites"), ("incidents", "sites")),
    **{kind: (("incidents",), ("incidents",)) for kind in EVENT_RELATIONS},
}
MAX_DISTANCE_M = 20_004_000.0  # the longest geodesic on WGS84 (pole to pole, about 20,003.9 km)

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,199}$"  # a lowercase slug of at most 200 characters
MAX_PRECISION_M = 20_037_508.0  # half the equator: no location can be vaguer than the whole Earth
COLOR_PATTERN = r"^#[0-9a-f]{6}$"
