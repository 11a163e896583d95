"""The analysis commands: the context report, nearby incidents, distances, zones at a date, overlaps."""
from __future__ import annotations

import click

from geomap.cli.common import ISO_DATE, echo_json, open_engine


@click.command()
@click.argument("incident_id")
@click.option("--format", "fmt", type=click.Choice(["json", "md"]), default="md", show_default=True)
@click.option("--radius", "radii", multiple=True, type=click.FloatRange(min=0, max=100, min_open=True),
              help="Radius in km for the counts, up to 100 (repeatable; default 5, 10, 25).")
@click.option("--window", "windows", multiple=True, type=click.IntRange(min=0, max=3650),
              help="Window in days before the incident, up to 3650 (repeatable; default 10, 30, 90).")
def report(incident_id: str, fmt: str, radii: tuple[float, ...], windows: tuple[int, ...]) -> None:
    """The context report of an incident (INCIDENT_ID, or incidents/ID as the other commands
    take it): claims, bottom line, zones, prior incidents, counts, sources."""
    from geomap import inquiry
    from geomap.analysis.markdown import render
    from geomap.analysis.report import DEFAULT_RADII_M, DEFAULT_WINDOWS_DAYS

    incident_id = incident_id.removeprefix("incidents/")
    result = inquiry.context_report(open_engine(), incident_id, tuple(r * 1000 for r in radii) or DEFAULT_RADII_M,
                                    windows or DEFAULT_WINDOWS_DAYS)
    click.echo(render(result), nl=False) if fmt == "md" else echo_json(result)


@click.command()
@click.argument("origin")
@click.option("--radius", type=click.FloatRange(min=0), default=25.0, show_default=True, help="Radius in km.")
@click.option("--from", "date_from", type=ISO_DATE, help="Only incidents on or after this date.")
@click.option("--to", "date_to", type=ISO_DATE, help="Only incidents on or before this date.")
@click.option("--event-type", "event_types", multiple=True, help="ACLED event type (repeatable).")
@click.option("--group", "group_ids", multiple=True, help="Attributed group id (repeatable).")
def nearby(origin: str, radius: float, date_from, date_to, event_types, group_ids) -> None:
    """Incidents within a radius of ORIGIN (incidents/ID, sites/ID or lon,lat), nearest first."""
    from geomap import inquiry

    echo_json(inquiry.nearby(open_engine(), origin, radius * 1000, date_from=date_from and date_from.date(),
                             date_to=date_to and date_to.date(), event_types=event_types, group_ids=group_ids))


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--within", "within_km", type=click.FloatRange(min=0, max=20_004), default=None,
              help="Also answer 'within this many km?' (yes / possibly / no) with its probability.")
def distance(a: str, b: str, within_km: float | None) -> None:
    """Geodesic distance {best, min, max} between two features or lon,lat points (between their
    feasible regions when location constraints relate them)."""
    from geomap import inquiry

    echo_json(inquiry.distance(open_engine(), a, b, None if within_km is None else within_km * 1000))


@click.command("zones-at")
@click.argument("location")
@click.option("--date", "on", type=ISO_DATE, required=True, help="The date the zones must be in force.")
def zones_at(location: str, on) -> None:
    """Zones in force on a date related to LOCATION (lon,lat[,precision_m])."""
    from geomap import inquiry

    relations, nearest = inquiry.zones_at(open_engine(), inquiry.parse_location(location), on.date())
    echo_json({"zones": relations, "nearest_by_group": nearest})


@click.command()
@click.option("--date", "on", type=ISO_DATE, required=True, help="The date the zones must be in force.")
def overlaps(on) -> None:
    """Pairs of zones of different groups that overlap on a date, with the area in km²."""
    from geomap import inquiry

    echo_json(inquiry.zone_overlaps(open_engine(), on.date()))
