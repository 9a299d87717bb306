/*
 * Small maps of one initiative's, organisation's or département's places: each element
 * .mini-map[data-mini-map] holds its points as [[lat, lon, label], ...]. The list printed under
 * the map gives the same places as text.
 */
(function () {
  "use strict";

  if (typeof L === "undefined") {
    return;
  }
  var elements = document.querySelectorAll(".mini-map[data-mini-map]");
  Array.prototype.forEach.call(elements, function (element) {
    if (element.getAttribute("data-ready") === "true") {
      return;
    }
    element.setAttribute("data-ready", "true");
    var points = JSON.parse(element.getAttribute("data-mini-map") || "[]");
    if (!points.length) {
      return;
    }
    var map = L.map(element, { scrollWheelZoom: false, maxZoom: 18 });
    L.tileLayer(element.getAttribute("data-tiles-url"), {
      attribution: element.getAttribute("data-tiles-attribution"),
      maxZoom: 18,
    }).addTo(map);
    var outline = element.getAttribute("data-outline");
    var area = outline
      ? L.geoJSON(JSON.parse(outline), {
        style: { color: "#000091", weight: 2, fillOpacity: 0.05 }, interactive: false,
      })
      : null;
    var latlngs = points.map(function (point) { return L.latLng(point[0], point[1]); });
    // The view first: vector layers need it to draw.
    if (area) {
      map.fitBounds(area.getBounds(), { padding: [10, 10] });
      area.addTo(map);
    } else if (latlngs.length === 1) {
      map.setView(latlngs[0], 12);
    } else {
      map.fitBounds(L.latLngBounds(latlngs), { padding: [20, 20], maxZoom: 13 });
    }
    latlngs.forEach(function (latlng, i) {
      L.circleMarker(latlng, {
        radius: 7, color: "#ffffff", weight: 2, fillColor: "#e1000f", fillOpacity: 1,
      }).bindTooltip(points[i][2]).addTo(map);
    });
    element.setAttribute("data-points", String(latlngs.length));
  });
})();
