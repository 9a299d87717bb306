/*
 * Map of initiatives: fetches the places of the filtered initiatives as compact
 * [lon, lat, id] triples, clusters them in the browser with supercluster and draws the
 * clusters as focusable Leaflet markers. The filter form updates the map, the address, the
 * "Voir la liste" link, the département layer and its table without reloading the page.
 * The map object and the département layer are created by folium's script; their global
 * names come from the JSON configuration in #map-config.
 */
(function () {
  "use strict";

  var configElement = document.getElementById("map-config");
  if (!configElement || typeof L === "undefined" || typeof Supercluster === "undefined") {
    return;
  }
  var config = JSON.parse(configElement.textContent);
  var map = window[config.map];
  var departementLayer = window[config.departements];
  if (!map) {
    return;
  }
  var canvas = document.getElementById("map-canvas");
  var statusElement = document.getElementById("map-status");
  var form = document.getElementById("map-filters");
  var listLink = document.getElementById("map-list-link");
  // Beyond this zoom places show one by one (fewer levels to index: faster at 100,000 places).
  var clusterMaxZoom = config.clusterMaxZoom;
  var markers = L.layerGroup().addTo(map);
  var QUICK_INDEX_THRESHOLD = 20000;
  var index = null;
  var indexMaxZoom = 0;
  var popupCache = {};
  var pointsRequest = 0;
  var countsRequest = 0;

  function plural(count, singular, pluralForm) {
    return count.toLocaleString("fr-FR") + "\u00a0" + (count > 1 ? pluralForm : singular);
  }

  function setStatus(text) {
    if (statusElement) {
      statusElement.textContent = text;
    }
  }

  function queryString() {
    var params = new URLSearchParams();
    if (form) {
      new FormData(form).forEach(function (value, key) {
        if (String(value).trim() !== "") {
          params.append(key, String(value).trim());
        }
      });
    } else {
      new URLSearchParams(window.location.search).forEach(function (value, key) {
        params.append(key, value);
      });
    }
    return params.toString();
  }

  function withQuery(base, query) {
    if (!query) {
      return base;
    }
    return base + (base.indexOf("?") === -1 ? "?" : "&") + query;
  }

  /* --- Clusters and markers ------------------------------------------------------------- */

  function clusterIcon(count) {
    var size = count < 10 ? "small" : count < 100 ? "medium" : count < 1000 ? "large" : "huge";
    var label = count < 10000 ? String(count) : Math.round(count / 1000) + "k";
    var dimension = { small: 32, medium: 38, large: 44, huge: 52 }[size];
    return L.divIcon({
      html: "<span>" + label + "</span>",
      className: "map-cluster map-cluster--" + size,
      iconSize: L.point(dimension, dimension),
    });
  }

  var pointIcon = L.divIcon({
    html: "<span></span>",
    className: "map-point",
    iconSize: L.point(22, 22),
    iconAnchor: L.point(11, 11),
    popupAnchor: L.point(0, -10),
  });

  function clusterMarker(feature) {
    var count = feature.properties.point_count;
    var latlng = L.latLng(feature.geometry.coordinates[1], feature.geometry.coordinates[0]);
    var marker = L.marker(latlng, {
      icon: clusterIcon(count),
      title: plural(count, "lieu", "lieux") + " : zoomer sur ce groupe",
      alt: plural(count, "lieu", "lieux"),
      keyboard: true,
      riseOnHover: true,
    });
    marker.on("click", function () {
      var zoom = Math.min(index.getClusterExpansionZoom(feature.properties.cluster_id),
                          config.maxZoom);
      map.setView(latlng, Math.max(zoom, map.getZoom() + 1));
    });
    return marker;
  }

  function pointMarker(latlng, initiativeId) {
    var marker = L.marker(latlng, {
      icon: pointIcon,
      title: "Lieu d’une initiative : afficher le détail",
      alt: "Lieu d’une initiative",
      keyboard: true,
      riseOnHover: true,
    });
    marker.bindPopup("<p>Chargement…</p>", { maxWidth: 320, autoPanPadding: [24, 24] });
    marker.on("popupopen", function (event) { loadPopup(event.popup, initiativeId); });
    return marker;
  }

  function loadPopup(popup, initiativeId) {
    if (popupCache[initiativeId]) {
      popup.setContent(popupCache[initiativeId]);
      return;
    }
    fetch(config.popup + initiativeId, { headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(function (html) {
        popupCache[initiativeId] = html;
        popup.setContent(html);
      })
      .catch(function () {
        popup.setContent("<p>Le détail de cette initiative n’a pas pu être chargé.</p>");
      });
  }

  /* Places sharing one point (the same commune centre) fan out around it at the last zoom. */
  function fanOut(group) {
    var centre = map.latLngToLayerPoint(group.latlng);
    var count = group.ids.length;
    return group.ids.map(function (id, i) {
      var offset;
      if (count <= 8) {
        var angle = (2 * Math.PI * i) / count;
        offset = L.point(Math.cos(angle) * 28, Math.sin(angle) * 28);
      } else {
        var turn = 0.9 * i + 1;
        var radius = 16 + 5 * i / (1 + i / 40);
        offset = L.point(Math.cos(turn) * radius, Math.sin(turn) * radius);
      }
      return pointMarker(map.layerPointToLatLng(centre.add(offset)), id);
    });
  }

  function render() {
    if (!index) {
      return;
    }
    var zoom = Math.round(map.getZoom());
    if (indexMaxZoom < clusterMaxZoom) {
      zoom = Math.min(zoom, indexMaxZoom);  // shallow index: stay clustered until the full one
    }
    var bounds = map.getBounds().pad(0.25);
    var bbox = [
      Math.max(-180, bounds.getWest()), Math.max(-85, bounds.getSouth()),
      Math.min(180, bounds.getEast()), Math.min(85, bounds.getNorth()),
    ];
    var features = index.getClusters(bbox, zoom);
    var layers = [];
    var groups = {};
    features.forEach(function (feature) {
      if (feature.properties.cluster) {
        layers.push(clusterMarker(feature));
        return;
      }
      var coordinates = feature.geometry.coordinates;
      var key = coordinates[0] + "," + coordinates[1];
      if (!groups[key]) {
        groups[key] = { latlng: L.latLng(coordinates[1], coordinates[0]), ids: [] };
      }
      groups[key].ids.push(feature.properties.id);
    });
    Object.keys(groups).forEach(function (key) {
      var group = groups[key];
      if (group.ids.length === 1) {
        layers.push(pointMarker(group.latlng, group.ids[0]));
      } else {
        layers = layers.concat(fanOut(group));
      }
    });
    markers.clearLayers();
    layers.forEach(function (layer) { markers.addLayer(layer); });
    canvas.setAttribute("data-rendered", String(layers.length));
  }

  function setIndex(features, maxZoom) {
    var started = performance.now();
    index = new Supercluster({ radius: 60, maxZoom: maxZoom, minPoints: 2 });
    index.load(features);
    indexMaxZoom = maxZoom;
    canvas.setAttribute("data-index-zoom", String(maxZoom));
    canvas.setAttribute("data-index-ms", String(Math.round(performance.now() - started)));
    render();
  }

  function loadPoints(url) {
    var request = ++pointsRequest;
    var started = performance.now();
    canvas.setAttribute("data-state", "loading");
    setStatus("Chargement des lieux…");
    // Same request as the <link rel="preload"> of the page (no extra headers), so it is reused.
    fetch(url, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (data) {
        if (request !== pointsRequest) {
          return;
        }
        var initiatives = new Set();
        var features = new Array(data.points.length);
        for (var i = 0; i < data.points.length; i++) {
          var row = data.points[i];
          initiatives.add(row[2]);
          features[i] = {
            type: "Feature",
            geometry: { type: "Point", coordinates: [row[0], row[1]] },
            properties: { id: row[2] },
          };
        }
        // Large catalogues: a shallow index draws the first clusters quickly, the full one
        // follows a moment later (a shallow index only knows the zooms up to quickZoom).
        var quickZoom = Math.max(Math.round(map.getZoom()) + 2, 9);
        if (features.length > QUICK_INDEX_THRESHOLD && quickZoom < clusterMaxZoom) {
          setIndex(features, quickZoom);
          window.setTimeout(function () {
            if (request === pointsRequest) {
              setIndex(features, clusterMaxZoom);
            }
          }, 30);
        } else {
          setIndex(features, clusterMaxZoom);
        }
        var places = features.length;
        var initiativeCount = initiatives.size;
        canvas.setAttribute("data-places", String(places));
        canvas.setAttribute("data-state", "ready");
        canvas.setAttribute("data-load-ms", String(Math.round(performance.now() - started)));
        // Milliseconds since navigation: what the benchmark reads as "first clusters drawn".
        canvas.setAttribute("data-ready-at", String(Math.round(performance.now())));
        setStatus(places === 0
          ? "Aucun lieu d’initiative ne correspond à ces critères."
          : plural(places, "lieu", "lieux") + " de " +
            plural(initiativeCount, "initiative", "initiatives") + " sur la carte.");
      })
      .catch(function () {
        if (request !== pointsRequest) {
          return;
        }
        canvas.setAttribute("data-state", "error");
        setStatus("Les lieux n’ont pas pu être chargés. Consultez la liste des initiatives.");
      });
  }

  /* --- Département layer and its table -------------------------------------------------- */

  function loadCounts(query) {
    var request = ++countsRequest;
    fetch(withQuery(config.counts, query), { headers: { Accept: "application/geo+json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || request !== countsRequest) {
          return;
        }
        var byCode = {};
        data.features.forEach(function (feature) { byCode[feature.properties.code] = feature.properties; });
        if (departementLayer) {
          departementLayer.eachLayer(function (layer) {
            var properties = byCode[layer.feature.properties.code];
            if (properties) {
              layer.feature.properties = properties;
              layer.setStyle({ fillColor: properties.fill });
            }
          });
        }
        updateTable(byCode, query);
        updateLegend(data.legend || []);
      })
      .catch(function () { /* the table keeps the counts of the page as loaded */ });
  }

  function updateTable(byCode, query) {
    var rows = document.querySelectorAll("#map-counts tbody tr[data-code]");
    Array.prototype.forEach.call(rows, function (row) {
      var code = row.getAttribute("data-code");
      var properties = byCode[code];
      if (!properties) {
        return;
      }
      row.querySelector("td").textContent = String(properties.count);
      var swatch = row.querySelector(".map-swatch");
      if (swatch) {
        swatch.style.backgroundColor = properties.fill;
      }
      var link = row.querySelector("a");
      if (link) {
        var params = new URLSearchParams(query);
        params.delete("departement");
        params.delete("region");
        params.append("departement", code);
        link.setAttribute("href", config.page + "?" + params.toString());
      }
    });
  }

  function updateLegend(entries) {
    var list = document.getElementById("map-legend");
    if (!list || !entries.length) {
      return;
    }
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    entries.forEach(function (entry) {
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "map-swatch";
      swatch.setAttribute("aria-hidden", "true");
      swatch.style.backgroundColor = entry.colour;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(entry.label));
      list.appendChild(item);
    });
  }

  /* --- Filters ---------------------------------------------------------------------------- */

  function updateLinks(query) {
    if (form) {
      window.history.replaceState(null, "", withQuery(config.page, query));
    }
    if (listLink) {
      listLink.setAttribute("href", withQuery(config.list, query));
    }
    var snippets = document.querySelectorAll(".map-embed-snippet textarea");
    Array.prototype.forEach.call(snippets, function (textarea) {
      textarea.value = textarea.value.replace(/src="[^"]*"/, 'src="' + withQuery(config.embed, query) + '"');
    });
  }

  function applyFilters() {
    var query = queryString();
    updateLinks(query);
    loadPoints(withQuery(config.points, query));
    loadCounts(query);
  }

  if (form) {
    var timer = null;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      applyFilters();
    });
    form.addEventListener("change", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(applyFilters, 250);
    });
  }

  // Close up, the département colours would hide the streets: fade them.
  function fadeDepartements() {
    if (departementLayer) {
      departementLayer.setStyle({ fillOpacity: map.getZoom() > 10 ? 0.08 : 0.45 });
    }
  }

  map.on("moveend", render);
  map.on("zoomend", fadeDepartements);
  loadPoints(config.initialPoints || withQuery(config.points, queryString()));
})();
