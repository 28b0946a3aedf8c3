/* CityOps: heavy layers drawn from the app's own vector tiles (Leaflet.VectorGrid on canvas).
 *
 * Each tiled layer is a VectorGrid inside the layer's feature group (so the layer switcher
 * toggles it). Tiles carry, per feature, `_s` (the style as JSON, computed by the server from
 * the layer's style), `_n` (how many features it stands for) and `_t` (an aggregate's
 * pre-escaped tooltip); a single feature's tooltip is fetched from `<url>/tip/<id>` (the same
 * pre-escaped HTML the server's tooltip function gives). Canvas tiles take no pointer events:
 * one hit test per map finds the topmost feature under the pointer across every tiled layer.
 * While a layer's tiles are being built the map shows the progress and polls the status; a
 * failed build is named in the same box. Below a zoom where a layer is generalised, the map
 * says what is not shown one by one ("zoom in to see ...").
 */
(function () {
  "use strict";
  if (window.cityopsTiles) return;

  // Cluster counts drawn on their circles (VectorGrid's canvas draws no text).
  var CountCanvas = L.Canvas.Tile.extend({
    _updateCircle: function (layer) {
      L.Canvas.Tile.prototype._updateCircle.call(this, layer);
      var n = layer.properties && layer.properties._n;
      if (!n || n < 2 || this._drawing === false) return;
      var ctx = this._ctx, p = layer._point;
      ctx.save();
      ctx.fillStyle = "#000";
      ctx.font = "bold 11px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(n >= 10000 ? Math.round(n / 1000) + "k" : String(n), p.x, p.y);
      ctx.restore();
    },
  });

  var maps = []; // every map with tiled layers (the browser tests reach them here)

  function state(map) {
    if (map._coTiles) return map._coTiles;
    var s = (map._coTiles = { layers: [], tips: {}, hover: null });
    maps.push(map);
    s.tooltip = L.tooltip({ sticky: true, direction: "auto", className: "co-tiletip" });
    s.box = L.control({ position: "bottomleft" });
    s.box.onAdd = function () {
      var div = L.DomUtil.create("div", "co-tilenotes");
      div.id = "co-tilenotes";
      return div;
    };
    s.box.addTo(map);
    map.on("mousemove", function (e) { hover(map, e); });
    map.on("mouseout", function () { unhover(map); });
    map.on("zoomend overlayadd overlayremove layeradd layerremove", function () { notes(map); });
    return s;
  }

  function notes(map) {
    var s = map._coTiles, z = map.getZoom(), lines = [];
    s.layers.forEach(function (t) {
      if (t.state !== "ready") {
        lines.push(t.state === "failed" ? "⚠ " + t.message : t.message);
        return;
      }
      if (!map.hasLayer(t.grid)) return;
      for (var i = 0; i < t.o.notes.length; i++) {
        if (z < t.o.notes[i][0]) { lines.push(t.o.notes[i][1]); break; }
      }
    });
    var div = s.box.getContainer();
    div.textContent = "";
    lines.forEach(function (line) {
      var p = document.createElement("div");
      p.textContent = line; // plain text: never HTML
      div.appendChild(p);
    });
    div.style.display = lines.length ? "" : "none";
  }

  // The topmost tiled feature under the pointer: tiles of the native zoom, tested top-down.
  function zIndex(map, t) {
    var pane = map.getPane(t.o.pane);
    return pane ? +(window.getComputedStyle(pane).zIndex || 0) : 0;
  }

  function pick(map, latlng) {
    var s = map._coTiles;
    // Top-down by pane (the style table's drawing order), then by when they were added.
    var order = s.layers.map(function (t, i) { return { t: t, z: zIndex(map, t), i: i }; });
    order.sort(function (a, b) { return b.z - a.z || b.i - a.i; });
    for (var k = 0; k < order.length; k++) {
      var t = order[k].t, g = t.grid;
      if (!g || !map.hasLayer(g)) continue;
      var z = Math.min(Math.round(map.getZoom()), t.o.maxZoom);
      var p = map.project(latlng, z), size = g.getTileSize();
      var tx = Math.floor(p.x / size.x), ty = Math.floor(p.y / size.y);
      var r = g._vectorTiles[tx + ":" + ty + ":" + z];
      if (!r || !r._features) continue;
      var local = L.point(p.x - tx * size.x, p.y - ty * size.y), found = null;
      for (var id in r._features) {
        var f = r._features[id].feature;
        if (f._containsPoint && f._containsPoint(local)) found = f;
      }
      if (found) return { layer: t, feature: found };
    }
    return null;
  }

  function hover(map, e) {
    var s = map._coTiles, hit = pick(map, e.latlng);
    if (!hit) return unhover(map);
    // An SVG feature (a small layer) under the pointer: the one in the higher pane wins.
    var tgt = e.originalEvent && e.originalEvent.target;
    if (tgt && tgt.closest && tgt.closest("path")) {
      var pane = tgt.closest(".leaflet-pane");
      var z = pane ? +(window.getComputedStyle(pane).zIndex || 0) : 0;
      if (z > zIndex(map, hit.layer)) return unhover(map);
      map.eachLayer(function (l) {
        if (l instanceof L.Tooltip && l !== s.tooltip) map.removeLayer(l);
      });
    }
    var props = hit.feature.properties, key = hit.layer.o.url + "#" + props._id;
    map.getContainer().style.cursor = "pointer";
    if (s.hover !== key) {
      s.hover = key;
      if (props._t) show(map, props._t);
      else if (s.tips[key]) show(map, s.tips[key]);
      else {
        show(map, "…");
        fetch(hit.layer.o.url + "/tip/" + props._id)
          .then(function (r) { return r.ok ? r.text() : ""; })
          .then(function (html) {
            s.tips[key] = html; // pre-escaped by the server, like the GeoJSON layers' _tip
            if (s.hover === key) show(map, html);
          });
      }
    }
    s.tooltip.setLatLng(e.latlng);
  }

  function show(map, html) {
    var s = map._coTiles;
    s.tooltip.setContent(html);
    if (!map.hasLayer(s.tooltip)) s.tooltip.setLatLng(map.getCenter()).addTo(map);
  }

  function unhover(map) {
    var s = map._coTiles;
    if (s.hover === null) return;
    s.hover = null;
    map.getContainer().style.cursor = "";
    map.removeLayer(s.tooltip);
  }

  function grid(t) {
    var o = t.o, styles = {}, layerStyles = {};
    function style(p) {
      var st = styles[p._s];
      if (!st) st = styles[p._s] = JSON.parse(p._s);
      return st;
    }
    o.names.forEach(function (name) { layerStyles[name] = style; });
    var g = L.vectorGrid.protobuf(o.url + "/{z}/{x}/{y}.pbf", {
      rendererFactory: function (coords, size, opts) { return new CountCanvas(coords, size, opts); },
      vectorTileLayerStyles: layerStyles,
      interactive: true, // hit-testable; pointer events are ours (see pick)
      getFeatureId: function (f) { f.properties._id = f.id; return f.id || ("a" + Math.random()); },
      maxNativeZoom: o.maxZoom,
      pane: o.pane,
      keepBuffer: 1,
      updateWhenZooming: false,
    });
    g.on("tileload", function (e) { if (e.tile) e.tile.style.pointerEvents = "none"; });
    return g;
  }

  function poll(map, t) {
    fetch(t.o.url + "/status.json", { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (st) {
        if (st.status === "ready") {
          t.state = "ready";
          t.grid = grid(t);
          t.group.addLayer(t.grid);
        } else if (st.status === "failed") {
          t.state = "failed";
          t.message = st.error || (t.o.title + ": tiles failed");
        } else {
          t.message = "Preparing the " + t.o.title + " for the map… " + Math.round(100 * st.progress) + " %";
          setTimeout(function () { poll(map, t); }, 1000);
        }
        notes(map);
      })
      .catch(function () { setTimeout(function () { poll(map, t); }, 2000); });
  }

  function start(map, group, o) {
    var s = state(map);
    s.layers = s.layers.filter(function (t) { return t.group !== group; });
    var t = { o: o, group: group, state: o.status, message: o.message || "" };
    s.layers.push(t);
    if (o.status === "ready") {
      t.grid = grid(t);
      group.addLayer(t.grid);
    } else if (o.status === "building") {
      poll(map, t);
    }
    notes(map);
  }

  window.cityopsTiles = {
    maps: maps,
    /* Draw a tiled layer inside `group` (a feature group) once the group is on a map.
       o: {url, key, names, title, maxZoom, pane, notes: [[zoom, text]], status, message} */
    add: function (group, o) {
      if (group._map) start(group._map, group, o);
      else group.once("add", function () { start(group._map, group, o); });
    },
  };
})();
