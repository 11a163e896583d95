"""The credit line of a graphic: original reporting first, then "and N more at <public URL>",
the data version and the basemap's credit, short enough for one line (social cards) or two (A4).

An origin is original reporting when one of its sources is marked `primary`, or when it is known
only through copies (`copy_of` names the original: a reprint, mirror or paraphrase credits what it
copies, never itself); an origin also cited directly and never as primary (an encyclopedia its
mirrors copy) is not. Origins are ranked: original reporting first (on a focus map, that on the
focus incident before the rest), then by the number of documents, then by first use. The address
printed is the map's page at the public URL (GEOMAP_PUBLIC_URL); a loopback or private address is
never printed, and without a public address the line names no address at all.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from geomap.config import is_public_address
from geomap.layers.scene import Scene

BASEMAP_CREDIT = "Basemap: Natural Earth, \u00a9 GeoNames (CC BY 4.0)"
_NOTE = re.compile(r"\s*\([^)]*\)\s*$")  # "The Boston Globe (reprint of ...)" -> "The Boston Globe"


@dataclass(frozen=True)
class Origin:
    """Who a set of documents comes from: the original publisher, whether it is original reporting,
    how many documents name it, and when it was first used (for a stable order)."""

    name: str
    original: bool
    documents: int
    first: int
    about_focus: int = 0  # documents of the focus incident (or its claims) from this origin


def origin_name(source: dict) -> str:
    """Whose work a source is: what it copies, or its publisher without its note in brackets."""
    if source.get("copy_of"):
        return str(source["copy_of"])
    name = source.get("publisher") or source.get("title") or "unknown"
    return _NOTE.sub("", str(name)) or str(name)


def origins(scene: Scene) -> list[Origin]:
    """The origins of a scene's sources: original reporting first (on a focus map, by the number of
    documents on the focus incident first), then most documents, then first used."""
    found: dict[str, list] = {}
    for index, source in enumerate(scene.sources()):
        entry = found.setdefault(origin_name(source), [set(), 0, index])
        entry[0].add("primary" if source.get("primary") else "copied" if source.get("copy_of") else "secondary")
        entry[1] += 1
    focus = scene.focus
    cited: dict[str, set] = {}
    for source in (*focus.sources, *(s for c in focus.claims for s in c.sources)) if focus else ():
        cited.setdefault(origin_name(source), set()).add(source.get("url"))
    ranked = [Origin(name, _original(kinds), n, first, len(cited.get(name, ()))) for name, (kinds, n, first) in found.items()]
    return sorted(ranked, key=lambda o: (not o.original, -o.about_focus, -o.documents, o.first))


def _original(kinds: set[str]) -> bool:
    """Original reporting: a source of it is marked primary, or it is known only through copies. An
    origin the data also cites directly, never as primary, is not (an encyclopedia that mirrors copy)."""
    return "primary" in kinds or kinds == {"copied"}


def public_page(scene: Scene) -> str | None:
    """The map's page as printed ("geomap.example/maps/..."): only an absolute, public address."""
    page = scene.links.get("page") or ""
    if not page.startswith(("http://", "https://")) or not is_public_address(page):
        return None
    return page.split("://", 1)[1]


def public_root(scene: Scene) -> str | None:
    """The public site's address as printed ("geomap.example"): the page's address up to its /maps path."""
    page = public_page(scene)
    return page.split("/maps", 1)[0] if page else None


def credit_text(scene: Scene, named: int | None = None, page: str | None = "", compact: bool = False) -> str:
    """The credit line naming the first `named` origins (default: all of them), and `page` as the
    address of the full list (default: the map's public page; None: no address); `compact` leaves
    out "Sources:" and says "Data" for "Data version".

    >>> from datetime import date
    >>> s = Scene(title="t", extent=(0, 0, 1, 1), on=date(2020, 1, 1), data_version="ab12",
    ...           links={"page": "https://geomap.example/maps/incidents/x"})
    >>> credit_text(s)
    'Sources: none recorded \u00b7 Data version ab12 \u00b7 Basemap: Natural Earth, \u00a9 GeoNames (CC BY 4.0)'
    """
    ranked = origins(scene)
    named = len(ranked) if named is None else max(0, min(named, len(ranked)))
    rest = sum(o.documents for o in ranked[named:])
    page = public_page(scene) if page == "" else page
    names = ", ".join(o.name for o in ranked[:named])
    if not ranked:
        sources = "Sources: none recorded"
    elif rest and page:
        sources = f"Sources: {names} and {rest} more at {page}" if names else f"{rest} sources at {page}"
    elif rest:
        sources = f"Sources: {names} and {rest} more" if names else f"{rest} sources"
    else:
        sources = f"Sources: {names}" + (f" (list at {page})" if page else "")
    if compact:
        sources = sources.removeprefix("Sources: ")
    return f"{sources} \u00b7 {'Data' if compact else 'Data version'} {scene.data_version} \u00b7 {BASEMAP_CREDIT}"


def fitted_credit(scene: Scene, fits: Callable[[str], bool]) -> str:
    """The credit line naming as many origins as `fits` accepts, with the map's page as the address,
    else the site's (then "Data" for "Data version"); at the least, the count of sources and the
    site's address."""
    tries = dict.fromkeys([(public_page(scene), False), (public_root(scene), False), (public_root(scene), True)])
    for page, compact in tries:
        for named in range(len(origins(scene)), 0, -1):
            text = credit_text(scene, named, page, compact)
            if fits(text):
                return text
    return credit_text(scene, 0, public_root(scene), True)
