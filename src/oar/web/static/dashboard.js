// Live dashboard: /dashboard/ws says what changed ({"kind", "id"}), in any process; every
// element whose data-live lists "<kind>:<id>" or "<kind>:*" is re-fetched by htmx (its
// hx-get, on the "oar-change" event; a burst of changes makes one fetch). No polling: on
// connecting it refreshes once (changes made since the page was rendered were not heard),
// and on a lost connection it reconnects with backoff and refreshes once again.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var scheme = location.protocol === "https:" ? "wss:" : "ws:";

  var due = {};  // element id -> a refresh is already scheduled (a burst of changes: one fetch)

  function refresh(kind, id) {
    document.querySelectorAll("[data-live]").forEach(function (element) {
      var wants = element.getAttribute("data-live").split(" ");
      if (kind === null || wants.indexOf(kind + ":" + id) >= 0 || wants.indexOf(kind + ":*") >= 0) {
        if (due[element.id]) { return; }
        due[element.id] = true;
        setTimeout(function () {
          due[element.id] = false;
          var current = document.getElementById(element.id);
          if (current) { htmx.trigger(current, "oar-change"); }
        }, 50);
      }
    });
  }

  function connect(delay) {
    var socket = new WebSocket(scheme + "//" + location.host + "/dashboard/ws");
    socket.onopen = function () {
      if (status) { status.textContent = "Live"; }
      // What changed between the page's rendering and this connection was not heard:
      // refresh once (and after a lost connection, for what was missed meanwhile).
      refresh(null, null);
      delay = 500;
    };
    socket.onmessage = function (event) {
      var change = JSON.parse(event.data);
      refresh(change.kind, change.id);
    };
    socket.onclose = function () {
      if (status) { status.textContent = "Reconnecting…"; }
      setTimeout(function () { connect(Math.min(delay * 2, 10000)); }, delay);
    };
  }

  // A refreshed fragment keeps the disclosures the reader opened (a run's log, the hidden
  // releases, a form): every <details> with an id that was open is opened again. It keeps
  // what the reader chose or typed and has not sent yet too (a status filter picked just
  // before a change re-rendered it): every field with an id that differs from its default.
  var opened = [];
  var edited = [];

  function changed(field) {
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (option) {
        return option.selected !== option.defaultSelected;
      });
    }
    if (field.type === "checkbox" || field.type === "radio") {
      return field.checked !== field.defaultChecked;
    }
    return field.value !== field.defaultValue;
  }

  document.addEventListener("htmx:beforeSwap", function () {
    opened = Array.prototype.map.call(
      document.querySelectorAll("details[open][id]"), function (d) { return d.id; });
    edited = [];
    document.querySelectorAll("select[id], input[id], textarea[id]").forEach(function (field) {
      if (field.type !== "hidden" && changed(field)) {
        edited.push({ id: field.id, value: field.value, checked: field.checked });
      }
    });
  });
  document.addEventListener("htmx:afterSwap", function () {
    opened.forEach(function (id) {
      var details = document.getElementById(id);
      if (details) { details.open = true; }
    });
    edited.forEach(function (kept) {
      var field = document.getElementById(kept.id);
      if (!field) { return; }
      if (field.type === "checkbox" || field.type === "radio") {
        field.checked = kept.checked;
      } else {
        field.value = kept.value;
      }
    });
  });

  if (window.WebSocket && window.htmx) { connect(500); }
})();
