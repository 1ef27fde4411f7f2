// memsnap dashboard: draws an entity's neighbours with cytoscape.js and, when
// the server starts serving a newer snapshot (server-sent events on
// /events), reads the page again and swaps its <main> in place, without
// a reload.
(function () {
  "use strict";
  window.memsnapLoadedAt = Date.now(); // tests check that updates do not reload the page
  var seq = Number(document.body.dataset.seq || 0);

  function drawGraph() {
    var el = document.getElementById("graph");
    var data = document.getElementById("graph-data");
    if (!el || !data || typeof cytoscape !== "function") return;
    var cy = cytoscape({
      container: el,
      elements: JSON.parse(data.textContent),
      wheelSensitivity: 0.3,
      style: [
        { selector: "node", style: { label: "data(name)", "font-size": 11, "background-color": "#7a93d6", "text-valign": "bottom", "text-margin-y": 4, width: 18, height: 18 } },
        { selector: "node[?start]", style: { "background-color": "#2f5fd0", width: 26, height: 26, "font-weight": "bold" } },
        { selector: "edge", style: { label: "data(type)", "font-size": 9, color: "#667085", width: 1.5, "line-color": "#b8c2d8", "target-arrow-color": "#b8c2d8", "target-arrow-shape": "triangle", "curve-style": "bezier" } }
      ],
      maxZoom: 1.3,
      // The entity in the middle, its neighbours on a ring around it.
      layout: { name: "concentric", concentric: function (n) { return n.data("start") ? 2 : 1; },
                levelWidth: function () { return 1; }, minNodeSpacing: 70, padding: 30, animate: false }
    });
    cy.on("tap", "node", function (e) {
      var name = e.target.data("name");
      if (!e.target.data("start")) location.href = "/entity?name=" + encodeURIComponent(name);
    });
  }

  // At most one update in flight and one a second: a store committing
  // several snapshots a second redraws the page once a second.
  var busy = false, again = false, last = 0;
  function update() {
    if (busy) { again = true; return; }
    var wait = last + 1000 - Date.now();
    if (wait > 0) { busy = true; setTimeout(function () { busy = false; update(); }, wait); return; }
    busy = true; again = false; last = Date.now();
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var main = doc.getElementById("main"), badge = doc.getElementById("snap");
        if (main) document.getElementById("main").replaceWith(main);
        if (badge) {
          var b = document.getElementById("snap");
          b.textContent = badge.textContent;
          b.classList.add("fresh");
          setTimeout(function () { b.classList.remove("fresh"); }, 1500);
        }
        drawGraph();
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () { busy = false; if (again) update(); });
  }

  if (window.EventSource) {
    var es = new EventSource("/events");
    es.addEventListener("snapshot", function (e) {
      var next = JSON.parse(e.data).seq;
      if (next !== seq) { seq = next; update(); }
    });
  }
  drawGraph();
})();
