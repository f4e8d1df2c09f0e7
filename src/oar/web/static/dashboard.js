// Live dashboard: /dashboard/ws says what changed ({"kind", "id"}), in any process; every
// element whose data-live lists "<kind>:<id>" or "<kind>:*" is re-fetched by htmx (its
// hx-get, on the "oar-change" event). No polling: on a lost connection it reconnects
// with backoff and refreshes once, as changes may have been missed meanwhile.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  var scheme = location.protocol === "https:" ? "wss:" : "ws:";

  function refresh(kind, id) {
    document.querySelectorAll("[data-live]").forEach(function (element) {
      var wants = element.getAttribute("data-live").split(" ");
      if (kind === null || wants.indexOf(kind + ":" + id) >= 0 || wants.indexOf(kind + ":*") >= 0) {
        htmx.trigger(element, "oar-change");
      }
    });
  }

  function connect(delay, missed) {
    var socket = new WebSocket(scheme + "//" + location.host + "/dashboard/ws");
    socket.onopen = function () {
      if (status) { status.textContent = "Live"; }
      if (missed) { refresh(null, null); }
      delay = 500;
    };
    socket.onmessage = function (event) {
      var change = JSON.parse(event.data);
      refresh(change.kind, change.id);
    };
    socket.onclose = function () {
      if (status) { status.textContent = "Reconnecting…"; }
      setTimeout(function () { connect(Math.min(delay * 2, 10000), true); }, delay);
    };
  }

  if (window.WebSocket && window.htmx) { connect(500, false); }
})();
