"""`python -m geomap`: the command line of geomap.cli."""
from geomap.cli import main

main()
