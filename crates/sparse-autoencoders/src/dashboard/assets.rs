//! The dashboard's one stylesheet and one script, written beside its pages (no network, no
//! CDN): sorting and filtering the index, and a check that every image loaded.

/// `style.css`.
pub const STYLE: &str = r#"
:root { --fg: #1d2330; --muted: #5d6677; --line: #dfe3ea; --bg: #f6f7f9; --card: #fff;
        --accent: #2f5fd0; --pos: #d0473a; --neg: #2f6fd0; --dead: #9aa1ad; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); background: var(--bg); }
header { background: var(--card); border-bottom: 1px solid var(--line); padding: 14px 24px; }
header h1 { margin: 0 0 2px; font-size: 20px; }
header .sub { color: var(--muted); }
main { padding: 18px 24px; max-width: 1200px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.stat { min-width: 130px; }
.stat b { display: block; font-size: 20px; }
.stat span { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
h2 { font-size: 16px; margin: 22px 0 8px; }
.controls { display: flex; flex-wrap: wrap; gap: 14px; align-items: center; margin: 10px 0; }
.controls input[type=number], .controls input[type=search] { width: 150px; padding: 4px 6px;
  border: 1px solid var(--line); border-radius: 4px; }
table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: right; font-variant-numeric: tabular-nums; }
th { background: #eef1f5; cursor: pointer; user-select: none; position: sticky; top: 0; }
th.sorted-asc::after { content: " ▲"; } th.sorted-desc::after { content: " ▼"; }
td:first-child, th:first-child { text-align: left; }
tr.dead td { color: var(--dead); }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px;
         background: #eceef2; color: var(--muted); margin-left: 6px; }
.badge.dead { background: #fde8e6; color: var(--pos); }
.freqbar { display: inline-block; height: 8px; background: var(--accent); border-radius: 2px;
           vertical-align: middle; margin-right: 6px; opacity: .7; }
svg rect.pos { fill: var(--pos); } svg rect.neg { fill: var(--neg); }
svg rect.hist { fill: var(--accent); } svg .axis { stroke: var(--muted); stroke-width: 1; }
svg text { font-size: 10px; fill: var(--muted); }
.grid { display: flex; flex-wrap: wrap; gap: 10px; }
.example { background: var(--card); border: 1px solid var(--line); border-radius: 6px;
           padding: 6px; text-align: center; min-width: 92px; }
.example img, .atom img { image-rendering: pixelated; display: block; margin: 0 auto 4px; }
.example .value { font-weight: 600; }
.example .interval { color: var(--muted); font-size: 11px; }
.row-label { color: var(--muted); font-size: 12px; }
.two { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }
.nav { display: flex; gap: 14px; margin-bottom: 6px; }
.effects td { text-align: left; }
.count { color: var(--muted); }
.ticks { display: flex; max-width: 100%; color: var(--muted); font-size: 9px; }
.ticks span { flex: 1; text-align: center; }
.axis-labels { display: flex; justify-content: space-between; color: var(--muted); font-size: 11px;
               max-width: 100%; }
"#;

/// `dashboard.js`: records script errors and image loads on the document (for a headless
/// check), and sorts and filters the index table.
pub const SCRIPT: &str = r#"
"use strict";
(function () {
  var root = document.documentElement;
  root.dataset.errors = "0";
  window.addEventListener("error", function () {
    root.dataset.errors = String(Number(root.dataset.errors) + 1);
  });
  window.addEventListener("load", function () {
    var imgs = document.querySelectorAll("img"), ok = 0, bad = 0;
    for (var i = 0; i < imgs.length; i++) {
      if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; } else { bad++; }
    }
    root.dataset.imagesLoaded = String(ok);
    root.dataset.imagesBroken = String(bad);
    root.dataset.ready = "1";
  });
  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("latents");
    if (!table) { return; }
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var heads = table.tHead.rows[0].cells;
    var minFreq = document.getElementById("min-freq");
    var hideDead = document.getElementById("hide-dead");
    var search = document.getElementById("search");
    var shown = document.getElementById("shown");
    function filter() {
      var lo = parseFloat(minFreq.value);
      if (isNaN(lo)) { lo = 0; }
      var q = search.value.trim();
      var n = 0;
      rows.forEach(function (r) {
        var keep = Number(r.dataset.freq) >= lo && !(hideDead.checked && r.dataset.dead === "1") &&
          (q === "" || r.dataset.id === q || r.dataset.id.indexOf(q) === 0);
        r.style.display = keep ? "" : "none";
        if (keep) { n++; }
      });
      shown.textContent = String(n);
    }
    [minFreq, hideDead, search].forEach(function (el) { el.addEventListener("input", filter); });
    Array.prototype.forEach.call(heads, function (th) {
      th.addEventListener("click", function () {
        var key = th.dataset.key, desc = !th.classList.contains("sorted-desc");
        Array.prototype.forEach.call(heads, function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(desc ? "sorted-desc" : "sorted-asc");
        rows.sort(function (a, b) {
          var d = Number(a.dataset[key]) - Number(b.dataset[key]);
          return desc ? -d : d;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
    filter();
  });
})();
"#;
