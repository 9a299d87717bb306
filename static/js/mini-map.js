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
    var latlngs = points.map(function (point) {
      var latlng = L.latLng(point[0], point[1]);
      L.circleMarker(latlng, {
        radius: 7, color: "#ffffff", weight: 2, fillColor: "#e1000f", fillOpacity: 1,
      }).bindTooltip(point[2]).addTo(map);
      return latlng;
    });
    if (latlngs.length === 1) {
      map.setView(latlngs[0], 12);
    } else {
      map.fitBounds(L.latLngBounds(latlngs), { padding: [20, 20], maxZoom: 13 });
    }
    element.setAttribute("data-points", String(latlngs.length));
  });
})();
