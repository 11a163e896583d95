"""The `geomap` command: the root group (`geomap.cli.group`) and, below, every command registered on it.

A new command is one module here and one `main.add_command(...)` line below.
"""
from __future__ import annotations

from geomap.cli.analysis import distance, nearby, overlaps, report, zones_at
from geomap.cli.data import data_version, export_command, import_command, load, synth
from geomap.cli.db import db
from geomap.cli.group import main
from geomap.cli.maps import map_command
from geomap.cli.serve import serve
from geomap.cli.story import story
from geomap.cli.tokens import token

main.add_command(db)
main.add_command(load)
main.add_command(serve)
main.add_command(report)
main.add_command(nearby)
main.add_command(distance)
main.add_command(zones_at)
main.add_command(overlaps)
main.add_command(token)
main.add_command(map_command)
main.add_command(import_command)
main.add_command(export_command)
main.add_command(data_version)
main.add_command(synth)
main.add_command(story)

__all__ = ["main"]
