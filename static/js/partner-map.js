/* Point picking for the places of the initiative form.
 *
 * Progressive: the latitude and longitude fields work on their own. With Leaflet loaded, each
 * place gets a small map under them: a click sets both fields, typing in the fields moves the
 * marker. The map is an extra for pointing devices; the fields stay the accessible way.
 */
(function () {
  "use strict";

  if (typeof L === "undefined") {
    return;
  }
  var REGION = [43.7, 4.8]; // between PACA and Languedoc-Roussillon
  var root = document.querySelector("[data-point-picker]");
  if (!root) {
    return;
  }
  var tilesUrl = root.getAttribute("data-tiles-url");
  var attribution = root.getAttribute("data-tiles-attribution");

  function number(input) {
    var value = parseFloat((input.value || "").replace(",", "."));
    return isNaN(value) ? null : value;
  }

  document.querySelectorAll(".app-place").forEach(function (place) {
    var latitude = place.querySelector("input[name$='-latitude']");
    var longitude = place.querySelector("input[name$='-longitude']");
    if (!latitude || !longitude) {
      return;
    }
    var holder = document.createElement("div");
    holder.className = "app-point-map fr-mb-2w";
    holder.setAttribute("aria-hidden", "true");
    var hint = document.createElement("p");
    hint.className = "fr-hint-text fr-mb-1w";
    hint.textContent = "Vous pouvez aussi cliquer sur la carte pour placer le point.";
    hint.setAttribute("aria-hidden", "true");
    var element = document.createElement("div");
    element.className = "fr-fieldset__element";
    element.append(hint, holder);
    longitude.closest(".fr-fieldset__element").after(element);

    var map = L.map(holder, { scrollWheelZoom: false, keyboard: false, maxZoom: 18 });
    L.tileLayer(tilesUrl, { attribution: attribution, maxZoom: 18 }).addTo(map);
    // Hidden from assistive technologies, so out of the tab order too: the fields do the job.
    function untabbable() {
      holder.removeAttribute("tabindex");
      holder.querySelectorAll("a, button, [tabindex]").forEach(function (control) {
        control.setAttribute("tabindex", "-1");
      });
    }
    var marker = null;

    function show(lat, lng, move) {
      if (lat === null || lng === null) {
        return;
      }
      var point = L.latLng(lat, lng);
      if (marker) {
        marker.setLatLng(point);
      } else {
        marker = L.circleMarker(point, {
          radius: 8, color: "#ffffff", weight: 2, fillColor: "#e1000f", fillOpacity: 1
        }).addTo(map);
      }
      if (move) {
        map.setView(point, Math.max(map.getZoom() || 0, 13));
      }
    }

    var lat = number(latitude);
    var lng = number(longitude);
    if (lat !== null && lng !== null) {
      map.setView([lat, lng], 14);
      show(lat, lng, false);
    } else {
      map.setView(REGION, 7);
    }

    untabbable();
    map.on("layeradd", untabbable);
    map.on("click", function (event) {
      latitude.value = event.latlng.lat.toFixed(6);
      longitude.value = event.latlng.lng.toFixed(6);
      show(event.latlng.lat, event.latlng.lng, false);
    });
    place.addEventListener("commune-chosen", function (event) {
      map.setView([event.detail.latitude, event.detail.longitude], 13);
    });
    [latitude, longitude].forEach(function (input) {
      input.addEventListener("change", function () {
        show(number(latitude), number(longitude), true);
      });
    });
  });
})();
