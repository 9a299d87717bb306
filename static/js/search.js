/* Autocomplete of the search box: titles, organisations and communes as you type.
   Accessible combobox: arrow keys move, Enter chooses, Escape closes; works without it too. */
(function () {
  "use strict";
  var input = document.getElementById("recherche-q");
  var list = document.getElementById("recherche-suggestions");
  if (!input || !list || !window.fetch) { return; }
  var url = input.getAttribute("data-suggestions-url");
  var labels = { initiative: "Initiative", organisation: "Organisation", commune: "Commune" };
  var items = [];
  var active = -1;
  var timer = null;
  var lastQuery = "";

  function close() {
    list.hidden = true;
    list.textContent = "";
    items = [];
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function choose(item) {
    if (item.type === "commune") {
      var commune = document.getElementById("recherche-commune");
      if (commune) { commune.value = item.code; }
      input.value = "";
      close();
      input.form.submit();
      return;
    }
    window.location.href = item.url;
  }

  function render(data) {
    list.textContent = "";
    items = data;
    active = -1;
    if (!data.length) { close(); return; }
    data.forEach(function (item, index) {
      var option = document.createElement("li");
      option.id = "recherche-suggestion-" + index;
      option.setAttribute("role", "option");
      option.className = "app-suggestion";
      var kind = document.createElement("span");
      kind.className = "fr-badge fr-badge--sm fr-mr-1w";
      kind.textContent = labels[item.type] || "";
      option.appendChild(kind);
      option.appendChild(document.createTextNode(item.label));
      option.addEventListener("mousedown", function (event) {
        event.preventDefault();
        choose(item);
      });
      list.appendChild(option);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function highlight(index) {
    var options = list.querySelectorAll("[role=option]");
    options.forEach(function (option, i) {
      option.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    active = index;
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", options[index].id);
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function lookup() {
    var query = input.value.trim();
    if (query.length < 2) { close(); return; }
    if (query === lastQuery) { return; }
    lastQuery = query;
    fetch(url + "?q=" + encodeURIComponent(query), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (data) { if (input.value.trim() === query) { render(data); } })
      .catch(close);
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(lookup, 150);
  });
  input.addEventListener("keydown", function (event) {
    if (list.hidden) { return; }
    if (event.key === "ArrowDown") {
      event.preventDefault();
      highlight((active + 1) % items.length);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      highlight((active - 1 + items.length) % items.length);
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      choose(items[active]);
    } else if (event.key === "Escape") {
      close();
    }
  });
  input.addEventListener("blur", function () { window.setTimeout(close, 100); });
}());
