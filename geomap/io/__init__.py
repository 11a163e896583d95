"""Data in and out: the seed loader, streaming imports (GeoJSON, GeoJSON text sequences, ACLED
CSV, KML), exports (GeoJSON, CSV, KML, GeoPackage) and the filter values they share with the API."""
