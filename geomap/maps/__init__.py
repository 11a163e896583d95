"""Maps: what to show, fetched from the database as a `Scene`, then drawn by the layers.

One module per concept:

- `request`: the request as plain values (`Selection`, `MapOptions`) parsed from query
  parameters by `map_request`, shared by `GET /maps` and `geomap map` (no Flask);
- `focus`: `focus_scene`, the map of one incident in its context (rings, distances to its target,
  the nearest prior incidents and nearby sites, zones as of its date);
- `selection`: `selection_scene`, the map of any selection (bbox, datetime, group, event type),
  counted per area on the server (`cells`) when it holds more than `SERVER_AGGREGATION_ABOVE`
  incidents, and `selection_steps`, the same in the steps a page streams (the map first, its
  cells once counted); `rows` turns database rows into the scene's records;
- `cache`: selection scenes (and their pages) per process, keyed on per-table change stamps;
- `composers`: `interactive` renders a scene as an HTML map with offline assets (`later`: what
  completes one drawn while its cells were counted), `graphic` as a
  PNG, SVG or PDF for print; `collector` keeps the garbage collector off what every map keeps alive.

Nothing here imports Flask; the HTTP views are `geomap.api.maps`.
"""
from geomap.maps.composers import graphic, interactive, later
from geomap.maps.focus import focus_scene
from geomap.maps.request import MapOptions, MapRequest, Selection, map_request, public_links
from geomap.maps.selection import check_selection, selection_scene, selection_steps, selection_title

__all__ = ["MapOptions", "MapRequest", "Selection", "check_selection", "focus_scene",
           "graphic", "interactive", "later", "map_request", "public_links", "selection_scene", "selection_steps",
           "selection_title"]
