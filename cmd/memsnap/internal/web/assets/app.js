// memsnap dashboard: draws an entity's neighbours and the graph view with
// cytoscape.js and, when the server starts serving a newer snapshot
// (server-sent events on /events), reads the page again and swaps its
// <main> in place, without a reload.
(function () {
  "use strict";
  window.memsnapLoadedAt = Date.now(); // tests check that updates do not reload the page
  var seq = Number(document.body.dataset.seq || 0);

  var nodeStyle = { label: "data(name)", "font-size": 11, "background-color": "#7a93d6", "text-valign": "bottom", "text-margin-y": 4, width: 18, height: 18 };
  var graphStyle = [
    { selector: "node", style: nodeStyle },
    { selector: "node[degree]", style: { width: "mapData(degree, 0, 50, 14, 44)", height: "mapData(degree, 0, 50, 14, 44)" } },
    { selector: "node[?start]", style: { "background-color": "#2f5fd0", width: 26, height: 26, "font-weight": "bold" } },
    { selector: "edge", style: { label: "data(type)", "font-size": 9, color: "#667085", width: 1.5, "line-color": "#b8c2d8", "target-arrow-color": "#b8c2d8", "target-arrow-shape": "triangle", "curve-style": "bezier" } }
  ];

  // draw puts elements into el with cytoscape.js and lays them out with
  // layout(cy); once laid out, the element gets data-ready="1" and
  // data-nodes (tests wait for it), and window.memsnapCy is the graph.
  // onTap(name, node) opens an entity.
  function draw(el, elements, layout, onTap) {
    var cy = cytoscape({ container: el, elements: elements, wheelSensitivity: 0.3, style: graphStyle, maxZoom: 1.3, layout: { name: "preset" } });
    cy.on("tap", "node", function (e) { onTap(e.target.data("name"), e.target); });
    cy.layout(layout(cy)).run();
    el.dataset.nodes = String(cy.nodes().length);
    el.dataset.ready = "1";
    window.memsnapCy = cy;
  }

  // rings lays a graph out in rings: around the start entity by hops from
  // it, or, without one, the most connected in the middle.
  function rings(cy) {
    var root = cy.nodes("[?start]"), hop = {}, maxDegree = 1;
    if (root.nonempty()) {
      cy.elements().bfs({ roots: root, directed: false, visit: function (v, e, u, i, depth) { hop[v.id()] = depth; } });
    }
    cy.nodes().forEach(function (n) { maxDegree = Math.max(maxDegree, n.data("degree") || 0); });
    return { name: "concentric", animate: false, padding: 30, minNodeSpacing: 60,
      concentric: function (n) { return root.nonempty() ? 100 - (hop[n.id()] || 0) : n.data("degree") || 0; },
      levelWidth: function () { return root.nonempty() ? 1 : Math.max(1, maxDegree / 4); } };
  }

  // The entity page: its neighbours on a ring around it, from the JSON
  // in the page. The graph view: the elements of /graph.json (its URL in
  // data-src), a click drawing the graph around the entity clicked.
  function drawGraph() {
    var el = document.getElementById("graph");
    if (!el || typeof cytoscape !== "function") return;
    var data = document.getElementById("graph-data");
    if (data) {
      draw(el, JSON.parse(data.textContent), rings,
        function (name, n) { if (!n.data("start")) location.href = "/entity?name=" + encodeURIComponent(name); });
      return;
    }
    if (!el.dataset.src) return;
    var params = new URLSearchParams(el.dataset.src.split("?")[1] || "");
    fetch(el.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (res) {
        if (!res.ok) { el.textContent = res.body.error || "the graph could not be read"; el.classList.add("error"); return; }
        if (res.body.elements.length === 0) { el.textContent = "No entities yet."; return; }
        draw(el, res.body.elements, rings, function (name) {
          location.href = "/graph?" + new URLSearchParams({ name: name, depth: params.get("depth") || "1", limit: params.get("limit") || "60" }).toString();
        });
        if (res.body.capped) {
          var note = document.getElementById("graph-note");
          if (note) note.textContent += " More entities were in reach than shown: raise the limit, or draw fewer hops.";
        }
      })
      .catch(function () { el.textContent = "the graph could not be read"; el.classList.add("error"); });
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
