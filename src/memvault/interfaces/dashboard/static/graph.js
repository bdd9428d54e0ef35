// Draws the entity graph: a small force layout computed once, then plain SVG.
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";

  // Fruchterman-Reingold: nodes repel (k^2 / d), links pull (d^2 / k), steps cool down.
  function layout(nodes, links, width, height) {
    const index = new Map(nodes.map(function (n, i) { return [n.id, i]; }));
    const k = 0.9 * Math.sqrt((width * height) / Math.max(1, nodes.length));
    nodes.forEach(function (n, i) {
      const angle = (2 * Math.PI * i) / Math.max(1, nodes.length);
      n.x = width / 2 + Math.cos(angle) * width / 4;
      n.y = height / 2 + Math.sin(angle) * height / 4;
      if (n.focus) { n.x = width / 2; n.y = height / 2; }
    });
    const edges = links.map(function (l) { return [index.get(l.source), index.get(l.target), l.weight]; });
    const steps = 250;
    for (let step = 0; step < steps; step++) {
      const temperature = (width / 10) * (1 - step / steps) + 1;
      const dx = new Float64Array(nodes.length), dy = new Float64Array(nodes.length);
      for (let i = 0; i < nodes.length; i++) {
        for (let j = i + 1; j < nodes.length; j++) {
          const x = nodes[i].x - nodes[j].x, y = nodes[i].y - nodes[j].y;
          const d = Math.max(Math.sqrt(x * x + y * y), 0.01);
          const push = (k * k) / d;
          dx[i] += (x / d) * push; dy[i] += (y / d) * push;
          dx[j] -= (x / d) * push; dy[j] -= (y / d) * push;
        }
      }
      edges.forEach(function (e) {
        const a = nodes[e[0]], b = nodes[e[1]];
        const x = a.x - b.x, y = a.y - b.y;
        const d = Math.max(Math.sqrt(x * x + y * y), 0.01);
        const pull = ((d * d) / k) * Math.min(1 + Math.log(e[2]), 3) * 0.5;
        dx[e[0]] -= (x / d) * pull; dy[e[0]] -= (y / d) * pull;
        dx[e[1]] += (x / d) * pull; dy[e[1]] += (y / d) * pull;
      });
      nodes.forEach(function (n, i) {
        dx[i] += (width / 2 - n.x) * 0.02 * k / 50; dy[i] += (height / 2 - n.y) * 0.02 * k / 50;
        const d = Math.max(Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]), 0.01);
        n.x += (dx[i] / d) * Math.min(d, temperature);
        n.y += (dy[i] / d) * Math.min(d, temperature);
        n.x = Math.min(width - 90, Math.max(30, n.x));
        n.y = Math.min(height - 24, Math.max(24, n.y));
      });
    }
    return edges;
  }

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    parent.appendChild(node);
    return node;
  }

  document.addEventListener("DOMContentLoaded", function () {
    const svg = document.getElementById("graph");
    const caption = document.getElementById("graph-caption");
    if (!svg) return;
    fetch(svg.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        const width = svg.clientWidth || 900, height = svg.clientHeight || 560;
        svg.setAttribute("viewBox", "0 0 " + width + " " + height);
        if (!data.nodes.length) { caption.textContent = "No entities in these memories yet."; return; }
        const edges = layout(data.nodes, data.links, width, height);
        const most = Math.max.apply(null, data.nodes.map(function (n) { return n.count; }));
        edges.forEach(function (e) {
          const a = data.nodes[e[0]], b = data.nodes[e[1]];
          el("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: "link", "stroke-width": Math.min(1 + e[2], 6) }, svg);
        });
        data.nodes.forEach(function (n) {
          const g = el("g", { class: "node" + (n.focus ? " focus" : ""), tabindex: "0", role: "link",
            "aria-label": n.id + ", in " + n.count + " memories" }, svg);
          el("circle", { cx: n.x, cy: n.y, r: 6 + 14 * Math.sqrt(n.count / most) }, g);
          const label = el("text", { x: n.x + 10 + 14 * Math.sqrt(n.count / most), y: n.y + 4 }, g);
          label.textContent = n.id;
          const go = function () { window.location.href = "/ui/?entity=" + encodeURIComponent(n.id); };
          g.addEventListener("click", go);
          g.addEventListener("keydown", function (ev) { if (ev.key === "Enter") go(); });
        });
        caption.textContent = data.nodes.length + " entities from " + data.memories +
          " memories. Select one to see its memories.";
      })
      .catch(function () { caption.textContent = "The graph could not be loaded."; });
  });
})();
