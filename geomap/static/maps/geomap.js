/* geomap's map runtime: draws the layers geomap.layers sends as data, and runs the time slider.
 *
 * Every string in the data was escaped on the server (popups and labels are trusted HTML built
 * from escaped parts); this file never builds HTML from user data itself, except through
 * textContent. Dates are ISO strings (YYYY-MM-DD), which compare correctly as strings.
 */
(function () {
  "use strict";
  var G = window.geomap = window.geomap || {};
  G.timed = [];
  G.updaters = [];  // functions (day, window, from) redrawing what the time slider changes
  G.ready = false;

  var PANES = {gmBasemap: 250, gmZones: 350, gmUncertainty: 380, gmBasemapLabels: 390, gmLines: 420,
               gmIncidents: 450, gmSites: 460, gmLabels: 610};

  G.init = function (map, opts) {
    G.started = performance.now();
    Object.keys(PANES).forEach(function (name) {
      var pane = map.createPane(name);
      pane.style.zIndex = PANES[name];
      if (name === "gmBasemap" || name === "gmBasemapLabels") pane.style.pointerEvents = "none";
    });
    if (opts.attribution) map.attributionControl.addAttribution(opts.attribution);
    if (opts.bounds) map.fitBounds(opts.bounds, {padding: [12, 12], animate: false});
    if (opts.title) titleControl(map, opts.title, opts.subtitle);
    G.timedMap = !!opts.timed;
    function zoomClasses() {
      var z = map.getZoom(), c = map.getContainer();
      c.classList.toggle("gm-zoom-ge7", z >= 7);
      c.classList.toggle("gm-zoom-ge9", z >= 9);
    }
    map.on("zoomend", zoomClasses);
    zoomClasses();
    G.map = map;
  };

  function titleControl(map, title, subtitle) {
    var control = L.control({position: "topright"});
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "gm-title");
      var strong = document.createElement("div"), small = document.createElement("small");
      strong.textContent = title;
      small.textContent = subtitle || "";
      div.appendChild(strong);
      div.appendChild(small);
      return div;
    };
    control.addTo(map);
  }

  /* Clusters of incidents: a neutral disc with the count (colour is kept for the incidents). */
  G.clusterIcon = function (cluster) {
    var n = cluster.getChildCount(), size = n < 10 ? 26 : n < 100 ? 32 : 40;
    var span = document.createElement("span");
    span.textContent = String(n);
    return L.divIcon({html: span.outerHTML, className: "gm-cluster", iconSize: [size, size]});
  };

  function bind(layer, p) {
    if (p.popup) layer.bindPopup(p.popup, {maxWidth: 380, minWidth: 240, maxHeight: 320});
    if (p.tooltip) layer.bindTooltip(p.tooltip, {sticky: true, direction: "top", opacity: 0.95});
  }

  function register(parent, layer, p) {
    if (p.t0) G.timed.push({layer: layer, parent: parent, t0: p.t0, t1: p.t1 || null, kind: p.tk || "event"});
  }

  function addAll(parent, layers) {
    if (parent.addLayers) parent.addLayers(layers);
    else layers.forEach(function (l) { parent.addLayer(l); });
  }

  function latlng(f) { return [f.geometry.coordinates[1], f.geometry.coordinates[0]]; }

  /* On a map with a time slider, a dated layer is added by the slider's first update if it is
     shown on its date: drawn now, most zones would be drawn only to be taken off again. */
  function draw(parent, fc, make) {
    var now = [];
    var made = fc.features.map(function (f) {
      var layer = make(f, f.properties);
      bind(layer, f.properties);
      register(parent, layer, f.properties);
      if (!(G.timedMap && f.properties.t0)) now.push(layer);
      return layer;
    });
    addAll(parent, now);
    return made;
  }

  /* Points as circle markers (radius in pixels). */
  G.points = function (parent, fc) {
    return draw(parent, fc, function (f, p) {
      return L.circleMarker(latlng(f), Object.assign({pane: p.pane || "gmIncidents"}, p.style));
    });
  };

  /* Circles with a radius in metres (precision circles, rings). */
  G.circles = function (parent, fc) {
    return draw(parent, fc, function (f, p) {
      return L.circle(latlng(f), Object.assign({pane: p.pane || "gmUncertainty"}, p.style, {radius: p.radius}));
    });
  };

  /* Lines and polygons. */
  G.shapes = function (parent, fc) {
    return draw(parent, fc, function (f, p) {
      return L.geoJSON(f, {pane: p.pane || "gmZones", style: function () { return p.style; }});
    });
  };

  /* Text and symbols placed at a point (server-escaped HTML in p.html). */
  G.labels = function (parent, fc) {
    return draw(parent, fc, function (f, p) {
      var icon = L.divIcon({className: "gm-label " + (p.cls || ""), html: p.html, iconSize: null,
                            iconAnchor: p.anchor || [0, 0]});
      return L.marker(latlng(f), {icon: icon, pane: p.pane || "gmLabels", interactive: !!(p.popup || p.tooltip),
                                  keyboard: false});
    });
  };

  /* The basemap: boundaries, rivers and lakes, not interactive, under everything else, and the
     names of places. Its data come in a script of their own (geomap.basemapData, linked in the
     page's head); its paths are built as soon as that script and Leaflet are loaded, while the
     server is still sending the rest of the page, and the map only adds them.

     The outlines come projected (geomap.layers.basemap_paths: Web Mercator pixels at zoom 0 in
     integer steps), so each part is one Path2D per style, built once, and one canvas that draws
     them with the view's scale and shift: Leaflet projected, clipped and simplified every vertex
     of ~90 GeoJSON layers when the map opened. The canvas is a Leaflet renderer with no layers
     of its own, so it follows the map's moves and zoom animations as Leaflet's canvases do. */
  var UNIT = 1e-5;  // basemap_paths.UNIT

  function decodedPaths(groups) {
    // Relative to the first point, so that Path2D's single-precision floats stay precise at high zooms.
    var origin = groups.length && groups[0].rings.length ? groups[0].rings[0].slice(0, 2) : [0, 0];
    return {origin: [origin[0] * UNIT, origin[1] * UNIT], groups: groups.map(function (g) {
      var path = new Path2D();
      g.rings.forEach(function (r) {
        var x = r[0] - origin[0], y = r[1] - origin[1];
        path.moveTo(x * UNIT, y * UNIT);
        for (var i = 2; i < r.length; i += 2) {
          x += r[i]; y += r[i + 1];
          path.lineTo(x * UNIT, y * UNIT);
        }
        if (g.closed) path.closePath();
      });
      var dash = g.style.dashArray ? String(g.style.dashArray).split(/[ ,]+/).map(Number) : [];
      return {path: path, style: g.style, dash: dash};
    })};
  }

  var BasemapCanvas = L.Canvas.extend({
    initialize: function (options) {
      L.Canvas.prototype.initialize.call(this, options);
      this._parts = [];
    },
    _draw: function () {
      var map = this._map, ctx = this._ctx;
      if (!map) return;
      var s = map.options.crs.scale(map.getZoom()) / 256, po = map.getPixelOrigin();
      this._parts.forEach(function (part) {  // on the renderer's transform (retina, its bounds)
        var o = part.paths.origin;
        ctx.save();
        ctx.translate(o[0] * s - po.x, o[1] * s - po.y);
        ctx.scale(s, s);
        part.paths.groups.forEach(function (g) { drawGroup(ctx, g, s); });
        ctx.restore();
      });
    }
  });

  function drawGroup(ctx, g, s) {
    var st = g.style;
    if (st.fill) {
      ctx.globalAlpha = st.fillOpacity;
      ctx.fillStyle = st.fillColor || st.color;
      ctx.fill(g.path, "evenodd");
    }
    if (st.weight) {
      ctx.setLineDash(g.dash.map(function (d) { return d / s; }));
      ctx.globalAlpha = st.opacity;
      ctx.lineWidth = st.weight / s;
      ctx.strokeStyle = st.color;
      ctx.lineCap = ctx.lineJoin = "round";
      ctx.stroke(g.path);
    }
  }

  /* One part of the basemap (its fill, its lines) as a layer of its own, for the layer control;
     every part is drawn on one shared canvas (one bitmap to composite, not one per part), in
     the parts' order. */
  var BasemapPart = L.Layer.extend({
    initialize: function (canvas, paths, order) {
      this._canvas = canvas;
      this.paths = paths;
      this.order = order;
    },
    onAdd: function (map) {
      var canvas = this._canvas;
      canvas._parts.push(this);
      canvas._parts.sort(function (a, b) { return a.order - b.order; });
      if (canvas._map) canvas._redraw();
      else map.addLayer(canvas);
    },
    onRemove: function (map) {
      var canvas = this._canvas;
      canvas._parts = canvas._parts.filter(function (p) { return p !== this; }, this);
      if (!canvas._parts.length) map.removeLayer(canvas);
      else if (canvas._map) canvas._redraw();
    }
  });
  G.BasemapCanvas = BasemapCanvas;

  /* Many labels that nothing clicks as one layer: one element whose HTML is written at once and
     rewritten when the view changes (hidden while it animates), instead of a Leaflet marker per
     label, each with an element parsed and placed on its own (measured: 244 cell counts took
     93 ms as markers). Items are {at: [lat, lon], cls, html, anchor: [x, y]}, html escaped on
     the server or made of numbers. Only the labels in the view and half a view around it are
     written, again after each move: 11 of the 221 place names are in the 100,000-incident map's
     first view; writing only those took its load from 567 to 516 ms warm, 791 to 710 ms cold
     (12 each, alternating). */
  var Labels = L.Layer.extend({
    initialize: function (pane, items) { this.options.pane = pane; this._items = items; },
    onAdd: function (map) {
      this._div = L.DomUtil.create("div", "gm-labels leaflet-zoom-hide", this.getPane());
      map.on("moveend", this._draw, this);  // Leaflet ends every zoom and view reset with one
      this._draw();
    },
    onRemove: function (map) {
      map.off("moveend", this._draw, this);
      L.DomUtil.remove(this._div);
      this._div = null;
    },
    setItems: function (items) {
      this._items = items;
      if (this._div) this._draw();
    },
    getBounds: function () {
      return L.latLngBounds(this._items.map(function (item) { return item.at; }));
    },
    _draw: function () {
      var map = this._map, near = map.getPixelBounds().pad(0.5), origin = map.getPixelOrigin();
      this._div.innerHTML = this._items.map(function (item) {
        var p = map.latLngToLayerPoint(item.at), a = item.anchor || [0, 0];
        if (!near.contains(p.add(origin))) return "";
        return '<div class="gm-label ' + (item.cls || "") + '" style="transform:translate(' +
          Math.round(p.x - a[0]) + "px," + Math.round(p.y - a[1]) + 'px)">' + item.html + "</div>";
      }).join("");
    }
  });
  G.Labels = Labels;

  function placeLayers(fc) {
    return [new Labels("gmBasemapLabels", fc.features.map(function (f) {
      return {at: latlng(f), cls: f.properties.cls, html: f.properties.html, anchor: f.properties.anchor};
    }))];
  }

  G.prepareBasemap = function () {
    if (G.basemapLayers || !G.basemapData || !window.L) return;
    var d = G.basemapData, canvas = new BasemapCanvas({pane: "gmBasemap"});
    G.basemapLayers = {fill: [new BasemapPart(canvas, decodedPaths(d.fill), 0)],
                       lines: [new BasemapPart(canvas, decodedPaths(d.lines), 1)],
                       places: placeLayers(d.places)};
  };

  G.basemap = function (parent, part) {
    G.prepareBasemap();
    var layers = G.basemapLayers[part];
    addAll(parent, layers);
    return layers;
  };

  /* Zones ("state") show while in force; incidents ("event") by the window up to the day. */
  function visible(entry, day, window, from) {
    if (entry.kind === "state") return entry.t0 <= day && (entry.t1 === null || entry.t1 >= day);
    if (window === "all") return true;
    if (entry.t0 > day) return false;
    return from === null || entry.t1 === null || entry.t1 >= from;
  }

  function shift(day, days) {
    var d = new Date(day + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + days);
    return d.toISOString().slice(0, 10);
  }

  function daysBetween(a, b) {
    return Math.round((Date.parse(b + "T00:00:00Z") - Date.parse(a + "T00:00:00Z")) / 86400000);
  }

  /* Show what is in force or has happened on `day`, as the time slider says. */
  G.applyTime = function (day, window) {
    var show = new Map(), hide = new Map();
    var from = (window === "all" || window === "before") ? null : shift(day, -Number(window));
    G.timed.forEach(function (entry) {
      var on = visible(entry, day, window, from);
      var bucket = on ? show : hide;
      if (!bucket.has(entry.parent)) bucket.set(entry.parent, []);
      bucket.get(entry.parent).push(entry.layer);
    });
    hide.forEach(function (layers, parent) {
      if (parent.removeLayers) parent.removeLayers(layers.filter(function (l) { return parent.hasLayer(l); }));
      else layers.forEach(function (l) { parent.removeLayer(l); });
    });
    show.forEach(function (layers, parent) {
      var missing = layers.filter(function (l) { return !parent.hasLayer(l); });
      addAll(parent, missing);
    });
    G.updaters.forEach(function (update) { update(day, window, from); });
    G.day = day;
    G.window = window;
    G.from = from;
  };

  /* The counted cells' circles and their counts, drawn on one canvas (Leaflet's canvas renderer)
     instead of ~350 SVG paths and ~270 label elements: the page's first layout and paint lose
     them (measured: see the commit that made it). Counts are drawn after the circles, for the
     circles on the map only (the layer control can take the cells off).

     Leaflet's canvas takes every mouse event over the whole map, which would cut the zones
     under it off from their popups and tooltips. This canvas lets events through
     (pointer-events: none) and takes back only those a cell is under, as an SVG circle would:
     a capture listener on the map's container hands such an event to the renderer, as if it
     had hit the canvas, and Leaflet's own handling of it then sees the canvas as its target
     (so the zone underneath gets nothing, and the map gets it once). Events on anything drawn
     above the cells' pane (sites, popups, controls) are left alone. */
  var ROUTED = ["click", "dblclick", "mousedown", "mouseup", "contextmenu", "mousemove", "mouseover", "mouseout"];

  var CellCanvas = L.Canvas.extend({
    initialize: function (options) {
      L.Canvas.prototype.initialize.call(this, options);
      this._counts = [];
    },
    onAdd: function (map) {
      L.Canvas.prototype.onAdd.call(this, map);
      this._container.style.pointerEvents = "none";
      var self = this, find = map._findEventTargets, fire = map._fireDOMEvent;
      if (!map._gmRouted) {  // the map's handling of an event taken by a canvas (once per map)
        map._gmRouted = true;
        map._findEventTargets = function (e, type) {
          return find.call(this, e._gmCanvas ? {target: e._gmCanvas, relatedTarget: e.relatedTarget} : e, type);
        };
        map._fireDOMEvent = function (e, type, canvasTargets) {
          if (e._gmCanvas && !e._gmCanvas._gmRouting) return;  // the renderer handles it
          return fire.call(this, e, type, canvasTargets);
        };
      }
      this._route = function (e) { self._routeEvent(e); };
      ROUTED.forEach(function (type) { map.getContainer().addEventListener(type, self._route, true); });
      map.on("dragstart", this._noPointer, this);
    },
    onRemove: function (map) {
      var self = this;
      ROUTED.forEach(function (type) { map.getContainer().removeEventListener(type, self._route, true); });
      map.off("dragstart", this._noPointer, this);
      this._noPointer();
      L.Canvas.prototype.onRemove.call(this, map);
    },
    _noPointer: function () {
      if (this._map) L.DomUtil.removeClass(this._map.getContainer(), "gm-pointer");
    },
    /* Whether the element an event hit lies under this canvas (the map itself, or a pane with a
       lower z-index: zones, basemap); controls, popups, sites and labels are above it. */
    _below: function (el) {
      var map = this._map;
      if (el === map.getContainer() || el === map.getPane("mapPane")) return true;
      var pane = el.closest ? el.closest(".leaflet-pane") : null;
      if (!pane || !map.getContainer().contains(pane)) return false;
      if (pane === map.getPane("mapPane")) return true;
      return Number(getComputedStyle(pane).zIndex) < Number(getComputedStyle(this.getPane()).zIndex);
    },
    _hit: function (e) {
      var point = this._map.mouseEventToLayerPoint(e), hit = null;
      for (var order = this._drawFirst; order; order = order.next) {
        if (order.layer.options.interactive && order.layer._containsPoint(point)) hit = order.layer;
      }
      return hit;
    },
    _routeEvent: function (e) {
      var map = this._map, container = map.getContainer(), canvas = this._container;
      if (e._gmCanvas || map._animatingZoom) return;
      var leaving = e.type === "mouseout" && !(e.relatedTarget && container.contains(e.relatedTarget));
      var over = !leaving && this._below(e.target) && !!this._hit(e);
      if (e.type === "mousemove" && over !== !!this._over) {
        // Onto a cell from what lies under it, or back: that thing is left, or entered again.
        var synthetic = {type: over ? "mouseout" : "mouseover", target: e.target, relatedTarget: canvas,
                         clientX: e.clientX, clientY: e.clientY};
        fire.call(map, synthetic, synthetic.type);
      }
      this._over = over;
      if (!over) {
        if (this._hoveredLayer && (e.type === "mousemove" || leaving)) this._handleMouseOut(e);
        this._noPointer();
        return;
      }
      e._gmCanvas = canvas;  // Leaflet's handling sees the canvas as the target
      canvas._gmRouting = true;
      try {
        if (e.type === "mousemove") this._onMouseMove(e);
        else if (e.type !== "mouseover" && e.type !== "mouseout") this._onClick(e);
      } finally {
        canvas._gmRouting = false;
      }
      L.DomUtil[this._hoveredLayer ? "addClass" : "removeClass"](container, "gm-pointer");
    },
    setCounts: function (items) {
      this._counts = items;
      this._all = true;
      if (this._map) this._redrawRequest = this._redrawRequest || L.Util.requestAnimFrame(this._redraw, this);
    },
    _redraw: function () {
      if (this._all) { this._redrawBounds = null; this._all = false; }
      L.Canvas.prototype._redraw.call(this);
    },
    _draw: function () {
      var bounds = this._redrawBounds, ctx = this._ctx, layers = this._layers;
      L.Canvas.prototype._draw.call(this);
      if (!this._counts.length) return;
      ctx.save();
      if (bounds) {
        var size = bounds.getSize();
        ctx.beginPath();
        ctx.rect(bounds.min.x, bounds.min.y, size.x, size.y);
        ctx.clip();
      }
      ctx.font = COUNT_FONT;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillStyle = "#ffffff";
      // A dark halo stroked under each count, not a blurred shadow: 1-3 against 8-12 ms for the
      // 100,000-incident map's 244 counts on a software canvas, on every redraw (pan, zoom, slider).
      ctx.strokeStyle = "rgba(0, 0, 0, 0.8)";
      ctx.lineWidth = 2.5;
      ctx.lineJoin = "round";
      this._counts.forEach(function (c) {
        var p = c.layer._point;
        if (!layers[L.stamp(c.layer)] || !p) return;
        ctx.strokeText(c.text, p.x, p.y);
        ctx.fillText(c.text, p.x, p.y);
      });
      ctx.restore();
    }
  });
  var fire = L.Map.prototype._fireDOMEvent;
  var COUNT_FONT = '700 11px system-ui, -apple-system, "Segoe UI", sans-serif';  // .leaflet-container's, bold
  G.CellCanvas = CellCanvas;

  /* Incidents counted on the server per grid cell and period. One marker per grid cell shows
     the sum over the periods the time slider lets through, sized by that sum (area ~ count).
     Category labels and the drill-down URL arrive escaped; counts and dates are numbers and
     ISO dates, so the popup is built from safe parts only. */
  G.cells = function (parent, data) {
    var canvas = new CellCanvas({pane: "gmIncidents"});
    var grids = data.grids.map(function (g) {
      return {g: g, cells: [], shown: false, counted: false,
              marker: L.circleMarker([g[1], g[0]], {pane: "gmIncidents", renderer: canvas, color: "#ffffff",
                                                    weight: 1.2, fillOpacity: 0.75, radius: 6})};
    });
    G.cellCanvas = canvas;
    G.cellMarkers = grids.map(function (grid) { return grid.marker; });
    data.cells.forEach(function (c) { grids[c[0]].cells.push(c); });
    function number(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }  // 12,345
    function popup(grid, counts, order, n, first, last) {
      var rows = order.slice(0, 6).map(function (k) {
        return "<li>" + data.cats[k][0] + ": " + number(counts[k]) + "</li>"; }).join("");
      var g = grid.g, drill = data.drill ? '<p><a href="' + data.drill + "&amp;bbox=" +
        [g[2], g[3], g[4], g[5]].map(function (v) { return v.toFixed(5); }).join(",") +
        '" target="_top">Map these incidents one by one</a></p>' : "";
      return '<div class="gm-popup"><h3>' + number(n) + " incidents</h3><table><tr><th>Periods</th><td>" +
        first + " \u2192 " + last + "</td></tr></table><ul>" + rows +
        (order.length > 6 ? '<li class="gm-muted">' + (order.length - 6) + " more categories</li>" : "") +
        "</ul>" + drill + "</div>";
    }
    function update(day, window, from) {
      var labels = [];
      grids.forEach(function (grid) {
        var counts = {}, n = 0, first = null, last = null;
        grid.cells.forEach(function (c) {
          if (window !== "all" && (c[1] > day || (from !== null && c[2] < from))) return;
          c[3].forEach(function (pair) { counts[pair[0]] = (counts[pair[0]] || 0) + pair[1]; n += pair[1]; });
          if (first === null || c[1] < first) first = c[1];
          if (last === null || c[2] > last) last = c[2];
        });
        if (!n) {
          if (grid.shown) { parent.removeLayer(grid.marker); grid.shown = false; }
          return;
        }
        var order = Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a] || a - b; });
        grid.marker.setStyle({fillColor: data.cats[order[0]][1]});
        grid.marker.setRadius(Math.min(24, 3 + 1.5 * Math.sqrt(n)));  // as cell_mark in style.py
        grid.state = [counts, order, n, first, last];
        if (!grid.bound) {  // the popup is built when opened, from the state of the moment
          grid.marker.bindPopup(function () { var st = grid.state;
            return popup(grid, st[0], st[1], st[2], st[3], st[4]); }, {maxWidth: 380, minWidth: 220});
          grid.bound = true;
        }
        if (!grid.shown) { parent.addLayer(grid.marker); grid.shown = true; }
        if (n >= 25) labels.push({layer: grid.marker, text: number(n)});  // counts on the larger circles only
      });
      canvas.setCounts(labels);
    }
    G.updaters.push(update);
    if (!data.timed) update(null, "all", null);  // with a time slider, its first update draws them
    else if (G.day !== undefined) update(G.day, G.window, G.from);  // unless it came first (awaiting)
  };

  /* A layer whose data the server sends after the rest of the map (the cells, counted while the
     browser draws the rest): its parent waits here, in `geomap.awaited`, for the call that draws it. */
  G.awaited = {};
  G.awaiting = function (parent, name) { G.awaited[name] = parent; };

  /* The time slider: one date for incidents and zones together. */
  G.time = function (map, opts) {
    var control = L.control({position: "bottomleft"});
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "gm-time leaflet-bar");
      var span = daysBetween(opts.start, opts.end);
      div.innerHTML = '<label class="gm-time-row"><span class="gm-time-title">Date</span>' +
        '<input type="range" class="gm-time-range" min="0" step="1"><output class="gm-time-day"></output></label>' +
        '<label class="gm-time-row"><span class="gm-time-title">Incidents</span><select class="gm-time-window">' +
        '<option value="all">all dates in the selection</option>' +
        '<option value="before">up to this date</option>' +
        '<option value="90">90 days up to this date</option>' +
        '<option value="30">30 days up to this date</option>' +
        '<option value="7">7 days up to this date</option></select></label>' +
        '<div class="gm-time-note">Zones: those in force on this date</div>';
      var range = div.querySelector(".gm-time-range"), out = div.querySelector(".gm-time-day");
      var select = div.querySelector(".gm-time-window");
      range.max = String(Math.max(span, 0));
      range.value = String(Math.max(0, Math.min(span, daysBetween(opts.start, opts.day))));
      select.value = opts.window;
      function update() {
        var day = shift(opts.start, Number(range.value));
        out.textContent = day;
        G.applyTime(day, select.value);
      }
      range.addEventListener("input", update);
      select.addEventListener("change", update);
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      G.setDay = function (day, window) {
        range.value = String(daysBetween(opts.start, day));
        if (window) select.value = window;
        update();
      };
      update();
      return div;
    };
    control.addTo(map);
  };

  /* Labels that nothing clicks never overlap: after each move or zoom, a label whose box meets
     one kept before it (in page order: distances, then rings, sites, the callout) is hidden.
     Every box is read before any class is set (hiding is `visibility`, which moves nothing), so
     the page is laid out once, not once per label (12 labels took 216 ms read one by one). */
  G.declutter = function () {
    if (!G.map) return;
    var spans = Array.prototype.slice.call(G.map.getContainer().querySelectorAll(
      ".leaflet-gmLabels-pane .gm-label span, .leaflet-gmSites-pane .gm-site-name span"));
    spans.forEach(function (span) { span.parentNode.classList.remove("gm-hidden-label"); });
    var boxes = spans.map(function (span) { return span.getBoundingClientRect(); });
    var kept = [];
    spans.forEach(function (span, i) {
      var box = boxes[i];
      if (!box.width) return;
      var clash = kept.some(function (k) {
        return box.left < k.right && k.left < box.right && box.top < k.bottom && k.top < box.bottom;
      });
      if (clash) span.parentNode.classList.add("gm-hidden-label"); else kept.push(box);
    });
  };

  /* The legend's height leaves the layer control (top right) and the zoom buttons free. */
  function fitLegend(map, div) {
    var body = div.querySelector(".gm-legend-body"), origin = map.getContainer().getBoundingClientRect().top;
    var layers = map.getContainer().querySelector(".leaflet-top.leaflet-right"), top = 10;
    if (layers) top = layers.getBoundingClientRect().bottom - origin + 10;
    var bottom = div.getBoundingClientRect().bottom - origin;
    var room = bottom - top - div.querySelector(".gm-legend-toggle").offsetHeight - 12;
    body.style.maxHeight = Math.max(room, 60) + "px";
    body.style.overflow = "auto";
  }

  /* The legend: server-built HTML (escaped), collapsible; collapsed at the start on small maps. */
  G.legend = function (map, opts) {
    var control = L.control({position: "bottomright"});
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "gm-legend");
      div.innerHTML = '<button type="button" class="gm-legend-toggle" aria-expanded="true">Legend</button>' +
        '<div class="gm-legend-body">' + opts.html + "</div>";
      var button = div.querySelector("button");
      button.addEventListener("click", function () {
        var open = div.classList.toggle("gm-collapsed") === false;
        button.setAttribute("aria-expanded", String(open));
      });
      var small = map.getSize().x <= 640 || map.getSize().y <= 480;
      if (opts.collapsed || small) { div.classList.add("gm-collapsed"); button.setAttribute("aria-expanded", "false"); }
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      map.on("resize", function () { fitLegend(map, div); });
      button.addEventListener("click", function () { fitLegend(map, div); });
      setTimeout(function () { fitLegend(map, div); }, 0);
      return div;
    };
    control.addTo(map);
  };

  /* A script the map needs only when a tool is first used, named by geomap.layers.assets
     (`lazy_js`): a tag `gm-lazy-<name>` with its URL (data-src) or, in a page with its assets
     inline, its text. `done` runs once the script has run. */
  function lazyScript(name, done, failed) {
    var tag = document.getElementById("gm-lazy-" + name), script = document.createElement("script");
    if (tag && tag.getAttribute("data-src")) {
      script.src = tag.getAttribute("data-src");
      script.onload = done;
      script.onerror = failed;
      document.head.appendChild(script);
    } else if (tag) {
      script.text = tag.textContent;  // runs as it is inserted
      document.head.appendChild(script);
      done();
    } else failed();
  }

  /* The measure tool (leaflet-measure): a light control in its place, the same button, which
     loads the plugin's 105 KB script when it is first hovered, focused or clicked, and then puts
     the plugin's own control where it stood, opened as the plugin opens it on hover (the page's
     load no longer evaluates the script nor builds the control: see the commit that made it). */
  G.measure = function (map, opts) {
    var stub = L.control({position: opts.position}), state = "idle", wanted = false;
    stub.onAdd = function () {
      var div = L.DomUtil.create("div", "leaflet-control-measure leaflet-control");
      div.setAttribute("aria-haspopup", "true");
      var toggle = L.DomUtil.create("a", "leaflet-control-measure-toggle js-toggle", div);
      toggle.href = "#";
      toggle.title = "Measure distances and areas";
      toggle.textContent = "Measure";
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      div.addEventListener("mouseenter", load);
      toggle.addEventListener("focus", load);
      toggle.addEventListener("click", function (e) { e.preventDefault(); wanted = true; load(); });
      return div;
    };
    function load() {
      if (state !== "idle") return;
      state = "loading";
      lazyScript("leaflet_measure_js", swap, function () { state = "idle"; });
    }
    function swap() {
      // Folium's fix for leaflet-measure with Leaflet >= 1.8 (ljagis/leaflet-measure#171)
      L.Control.Measure.include({
        _setCaptureMarkerIcon: function () {
          this._captureMarker.options.autoPanOnFocus = false;
          this._captureMarker.setIcon(L.divIcon({iconSize: this._map.getSize().multiplyBy(2)}));
        }
      });
      var old = stub.getContainer(), hovered = old.matches(":hover"), focused = old.contains(document.activeElement);
      var control = new L.Control.Measure(opts);
      map.addControl(control);
      old.parentNode.insertBefore(control.getContainer(), old);
      map.removeControl(stub);
      G.measureControl = control;
      state = "done";
      if (hovered || focused || wanted) control._expand();
    }
    stub.addTo(map);
    G.measureStub = stub;
  };

  /* How long each drawing call took, in milliseconds (for benchmarks: geomap.timings). */
  G.timings = [];
  ["basemap", "points", "circles", "shapes", "labels", "cells", "time", "legend", "measure", "init"].forEach(function (name) {
    var draw = G[name];
    G[name] = function () {
      var t = performance.now(), result = draw.apply(G, arguments);
      G.timings.push([name, Math.round(performance.now() - t)]);
      return result;
    };
  });

  G.prepareBasemap();  // when the basemap's data came first

  G.done = function () {
    var canvas = G.cellCanvas;
    if (canvas && canvas._redrawRequest) {  // drawn now, not in the next frame: `drawn` means drawn
      L.Util.cancelAnimFrame(canvas._redrawRequest);
      canvas._redraw();
    }
    if (G.map) { G.map.on("zoomend moveend", G.declutter); G.declutter(); }
    G.drawn = performance.now(); G.ready = true; document.documentElement.setAttribute("data-geomap-ready", "1"); };
})();
