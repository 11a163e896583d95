/* geomap's story map: moves the map from step to step of a chain of events.
 *
 * The page's text is written (and escaped) on the server; this file only reads numbers, ids and
 * titles from the JSON in #gs-data, and puts titles in the page through textContent alone.
 */
(function () {
  "use strict";
  var S = window.geomapStory = {ready: false, step: -1};
  var STYLE = {
    now: {radius: 8, color: "#111111", weight: 2, fillColor: "#c0392b", fillOpacity: 0.95},
    past: {radius: 6, color: "#444444", weight: 1, fillColor: "#7f8c8d", fillOpacity: 0.8},
    later: {radius: 5, color: "#7f8c8d", weight: 1, fillColor: "#ffffff", fillOpacity: 0.9}
  };

  function all(selector) { return Array.prototype.slice.call(document.querySelectorAll(selector)); }

  function tooltip(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span;
  }

  function draw(map, data) {
    S.markers = data.steps.map(function (step, n) {
      return step.points.map(function (p) {
        L.circle(p.at, {radius: p.radius, pane: "gmUncertainty", interactive: false, color: "#7f8c8d",
                        weight: 1, dashArray: "3 3", fillOpacity: 0.06}).addTo(map);
        var marker = L.circleMarker(p.at, Object.assign({pane: "gmIncidents", className: "gs-marker"}, STYLE.later));
        marker.bindTooltip(tooltip(p.title), {direction: "top"});
        marker.on("click", function () { S.go(n); });
        return marker.addTo(map);
      });
    });
    data.lines.forEach(function (l) {
      L.polyline([l.from, l.to], {pane: "gmLines", color: "#555555", weight: 1.5, dashArray: "6 5",
                                  interactive: false, className: "gs-line"}).addTo(map);
    });
  }

  S.go = function (n, animate) {
    var steps = S.data.steps;
    n = Math.max(0, Math.min(steps.length - 1, n));
    S.step = n;
    all(".gs-step").forEach(function (el, i) { el.hidden = i !== n; });
    all(".gs-tick").forEach(function (el, i) {
      el.classList.toggle("gs-now", i === n);
      el.setAttribute("aria-current", i === n ? "step" : "false");
      if (i === n && el.scrollIntoView && el.parentNode.scrollWidth > el.parentNode.clientWidth) {
        el.parentNode.scrollLeft = el.offsetLeft - el.parentNode.clientWidth / 2;
      }
    });
    S.markers.forEach(function (markers, i) {
      markers.forEach(function (m) {
        m.setStyle(i === n ? STYLE.now : i < n ? STYLE.past : STYLE.later);
        m.setRadius((i === n ? STYLE.now : i < n ? STYLE.past : STYLE.later).radius);
        if (i === n) m.bringToFront();
      });
    });
    S.map.flyToBounds(steps[n].bounds, {animate: animate !== false, duration: 0.8, maxZoom: 10, padding: [16, 16]});
    document.documentElement.setAttribute("data-story-step", String(n + 1));
  };

  S.start = function () {
    var data = S.data = JSON.parse(document.getElementById("gs-data").textContent);
    var map = S.map = L.map("gs-map", {zoomSnap: 0.25, scrollWheelZoom: false});
    window.geomap.init(map, {bounds: data.bounds, attribution: data.attribution});
    ["fill", "lines", "places"].forEach(function (part) { window.geomap.basemap(map, part); });
    draw(map, data);
    all(".gs-tick").forEach(function (el, i) { el.addEventListener("click", function () { S.go(i); }); });
    all(".gs-prev").forEach(function (el) { el.addEventListener("click", function () { S.go(S.step - 1); }); });
    all(".gs-next").forEach(function (el) { el.addEventListener("click", function () { S.go(S.step + 1); }); });
    document.addEventListener("keydown", function (e) {
      if (e.key === "ArrowRight") S.go(S.step + 1);
      if (e.key === "ArrowLeft") S.go(S.step - 1);
    });
    S.go(0, false);
    S.readyAt = performance.now();  // milliseconds from navigation start: bench/story.py reads it
    S.ready = true;
    document.documentElement.setAttribute("data-story-ready", "1");
  };
})();
