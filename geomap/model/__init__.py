"""The one definition of each thing geomap stores and of the questions asked of it: records,
their vocabulary and rules, and the plain query values that `geomap.db` translates into SQL.

Below `geomap.db` in the import order (DESIGN.md): imports nothing of geomap but `geomap.errors`.
"""
