"""The analysis engine: pure Shapely + pyproj, no Flask and no SQL (DESIGN.md decision 3).

- `geodesy`: geodesic distance and bearing on WGS84, distances with uncertainty
  (`Distance`: best/min/max) and the yes/possibly/no answer to "within R?".
- `polygons`: distance to, containment in and overlap of zones (Polygon/MultiPolygon in
  lon/lat) with geodesic edges, as PostGIS `geography` treats them.

The database narrows candidates by index; these modules compute the exact answer.
"""
