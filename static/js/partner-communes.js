/* Commune suggestions for the place and address fields of the partner forms.
 *
 * Progressive: without this script the field takes a name, a postcode or an INSEE code and the
 * server resolves it. With it, a <datalist> offers the gazetteer's matches as one types, and
 * choosing one fills the hidden commune code so the server needs no guess.
 */
(function () {
  "use strict";

  var DELAY = 200;
  var counter = 0;

  function setup(input) {
    var container = input.closest(".app-commune");
    var url = input.closest("[data-communes-url]").getAttribute("data-communes-url");
    var hidden = container ? container.querySelector("[data-commune-code]") : null;
    var list = document.createElement("datalist");
    var timer = null;
    var byLabel = {};

    counter += 1;
    list.id = "communes-suggestions-" + counter;
    input.setAttribute("list", list.id);
    input.parentNode.appendChild(list);

    function fill(results) {
      byLabel = {};
      while (list.firstChild) {
        list.removeChild(list.firstChild);
      }
      results.forEach(function (commune) {
        var option = document.createElement("option");
        option.value = commune.label;
        option.textContent = commune.postcode ? commune.postcode + " — " + commune.label : commune.label;
        byLabel[commune.label] = commune;
        list.appendChild(option);
      });
    }

    function lookup() {
      var query = input.value.trim();
      if (query.length < 2) {
        fill([]);
        return;
      }
      fetch(url + "?q=" + encodeURIComponent(query), {
        credentials: "same-origin",
        headers: { Accept: "application/json" }
      })
        .then(function (response) { return response.ok ? response.json() : []; })
        .then(fill)
        .catch(function () { fill([]); });
    }

    input.addEventListener("input", function () {
      var chosen = byLabel[input.value];
      if (hidden) {
        hidden.value = chosen ? chosen.code : "";
      }
      if (chosen && chosen.latitude !== null && chosen.longitude !== null) {
        // The point map of the same place (partner-map.js) centres on the commune.
        input.dispatchEvent(new CustomEvent("commune-chosen", {
          bubbles: true, detail: { latitude: chosen.latitude, longitude: chosen.longitude }
        }));
      }
      window.clearTimeout(timer);
      timer = window.setTimeout(lookup, DELAY);
    });
  }

  document.querySelectorAll("[data-commune-input]").forEach(setup);
})();
