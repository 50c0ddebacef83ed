// The kvflow dashboard: draws the plan from /plan.json as a layered graph (left to right) and
// refreshes its figures, tables and plots from /metrics (Prometheus text format) every second.
// Rates are differences between scrapes over the run's own uptime between them.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const REFRESH_MS = 1000;
const HISTORY = 300; // samples kept per plot: five minutes at one a second
const NODE_W = 190;
const NODE_H = 54;
const GAP_X = 60;
const GAP_Y = 16;
const OPERATOR_ROWS = 8;
const PLOT_MIN_SPAN = 60; // samples: the plots' time axis is at least a minute

const history = { events: [], rows: [], lag: [] };
const RATE_WINDOW = 3; // seconds of uptime a rate is averaged over
let scrapes = []; // recent scrapes, oldest first: { uptime, counters }
let rates = {}; // counter key -> per second

// ---- Prometheus text format ----

// Every sample of the exposition: name -> [{ labels, value }].
function parseMetrics(text) {
  const samples = new Map();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const parsed = parseSample(line);
    if (!parsed) continue;
    if (!samples.has(parsed.name)) samples.set(parsed.name, []);
    samples.get(parsed.name).push(parsed);
  }
  return samples;
}

function parseSample(line) {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!name) return null;
  let rest = line.slice(name[0].length);
  let labels = {};
  if (rest.startsWith("{")) {
    const parsed = parseLabels(rest);
    if (!parsed) return null;
    labels = parsed.labels;
    rest = rest.slice(parsed.end);
  }
  const value = parseFloat(rest.trim().split(/\s+/)[0]);
  return { name: name[0], labels, value };
}

// `{a="x",b="y\"z"}` at the start of `text`: the labels and where they end.
function parseLabels(text) {
  const labels = {};
  let i = 1;
  while (i < text.length) {
    if (text[i] === "}") return { labels, end: i + 1 };
    if (text[i] === "," || text[i] === " ") { i++; continue; }
    const eq = text.indexOf("=", i);
    if (eq < 0 || text[eq + 1] !== "\"") return null;
    const key = text.slice(i, eq).trim();
    let value = "";
    i = eq + 2;
    while (i < text.length && text[i] !== "\"") {
      if (text[i] === "\\" && i + 1 < text.length) {
        const next = text[i + 1];
        value += next === "n" ? "\n" : next;
        i += 2;
      } else {
        value += text[i++];
      }
    }
    labels[key] = value;
    i++;
  }
  return null;
}

// The sum of `name`'s samples whose labels include `where` (null when there is none).
function total(samples, name, where = {}) {
  const list = (samples.get(name) || []).filter((s) =>
    Object.entries(where).every(([k, v]) => s.labels[k] === v));
  if (list.length === 0) return null;
  return list.reduce((sum, s) => sum + s.value, 0);
}

// The distinct values of `label` on `name`'s samples, in order of appearance.
function labelValues(samples, name, label) {
  const seen = [];
  for (const s of samples.get(name) || []) {
    const v = s.labels[label];
    if (v !== undefined && !seen.includes(v)) seen.push(v);
  }
  return seen;
}

// ---- formatting ----

function fmt(n, digits = 1) {
  if (n === null || n === undefined || !isFinite(n)) return "–";
  const abs = Math.abs(n);
  const units = [[1e9, " G"], [1e6, " M"], [1e3, " k"]];
  for (const [scale, unit] of units) {
    if (abs >= scale) return (n / scale).toFixed(digits) + unit;
  }
  return Number.isInteger(n) ? String(n) : n.toFixed(digits);
}

function fmtMs(ms) {
  if (ms === null || !isFinite(ms)) return "–";
  if (Math.abs(ms) >= 1000) return (ms / 1000).toFixed(1) + " s";
  return Math.round(ms) + " ms";
}

function fmtSeconds(s) {
  if (s === null || !isFinite(s)) return "–";
  if (s >= 86400) return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  if (s >= 3600) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " m";
  if (s >= 60) return Math.floor(s / 60) + " m " + Math.floor(s % 60) + " s";
  return s.toFixed(1) + " s";
}

// ---- DOM helpers ----

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  for (const child of [].concat(children)) {
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  if (text !== null) node.textContent = text;
  return node;
}

function setAttrs(node, attrs) {
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
}

// A figure: its text, and its raw value in `data-value` for whoever reads the page.
function setFigure(node, text, value) {
  if (!node) return;
  node.textContent = text;
  node.setAttribute("data-value", value === null || !isFinite(value) ? "" : String(value));
}

function truncate(text, length) {
  return text.length <= length ? text : text.slice(0, length - 1) + "…";
}

// ---- the plan graph ----

// Each node's layer: the longest path to it from a node without inputs.
function layers(plan) {
  const inputs = new Map(plan.nodes.map((n) => [n.id, []]));
  const outputs = new Map(plan.nodes.map((n) => [n.id, []]));
  for (const e of plan.edges) {
    if (inputs.has(e.to) && outputs.has(e.from)) {
      inputs.get(e.to).push(e.from);
      outputs.get(e.from).push(e.to);
    }
  }
  const layer = new Map();
  const waiting = new Map(plan.nodes.map((n) => [n.id, inputs.get(n.id).length]));
  const ready = plan.nodes.filter((n) => waiting.get(n.id) === 0).map((n) => n.id);
  ready.forEach((id) => layer.set(id, 0));
  while (ready.length > 0) {
    const id = ready.shift();
    for (const next of outputs.get(id)) {
      layer.set(next, Math.max(layer.get(next) || 0, layer.get(id) + 1));
      waiting.set(next, waiting.get(next) - 1);
      if (waiting.get(next) === 0) ready.push(next);
    }
  }
  for (const n of plan.nodes) if (!layer.has(n.id)) layer.set(n.id, 0); // NB: a cycle
  return { layer, inputs };
}

// Positions: one column per layer, nodes in a column ordered by their inputs' rows.
function layout(plan) {
  const { layer, inputs } = layers(plan);
  const columns = [];
  plan.nodes.forEach((n, index) => {
    const c = layer.get(n.id);
    (columns[c] = columns[c] || []).push({ node: n, index });
  });
  const row = new Map();
  columns.forEach((column) => {
    column.forEach((entry) => {
      const rows = inputs.get(entry.node.id).map((id) => row.get(id)).filter((r) => r !== undefined);
      entry.key = rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : entry.index;
    });
    column.sort((a, b) => a.key - b.key || a.index - b.index);
    column.forEach((entry, r) => row.set(entry.node.id, r));
  });
  const tallest = Math.max(1, ...columns.map((c) => (c ? c.length : 0)));
  const height = tallest * (NODE_H + GAP_Y) + GAP_Y;
  const position = new Map();
  columns.forEach((column, c) => {
    const offset = (height - column.length * (NODE_H + GAP_Y) - GAP_Y) / 2;
    column.forEach((entry, r) => {
      position.set(entry.node.id, {
        x: GAP_Y + c * (NODE_W + GAP_X),
        y: GAP_Y + offset + r * (NODE_H + GAP_Y),
      });
    });
  });
  const width = columns.length * (NODE_W + GAP_X) - GAP_X + 2 * GAP_Y;
  return { position, width, height };
}

const KIND_TITLES = {
  source: "source", store: "store", output: "output", sync: "sync",
  alert: "alert", route: "route", handler: "handler",
};

// The node's data attributes: what ties it to the metrics.
function nodeAttrs(n) {
  const attrs = { class: "node " + n.kind, "data-id": n.id, "data-kind": n.kind };
  const named = { output: "data-pipeline", sync: "data-sync", alert: "data-alert",
    route: "data-route", source: "data-source" };
  if (named[n.kind]) attrs[named[n.kind]] = n.name;
  if (n.kind === "operator") attrs["data-of-pipeline"] = n.pipeline;
  return attrs;
}

function drawPlan(plan) {
  const graph = document.getElementById("plan-graph");
  graph.replaceChildren();
  const { position, width, height } = layout(plan);
  setAttrs(graph, { width, height, viewBox: `0 0 ${width} ${height}` });
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z" }));
  defs.append(marker);
  graph.append(defs);
  for (const e of plan.edges) {
    const from = position.get(e.from);
    const to = position.get(e.to);
    if (!from || !to) continue;
    const [x1, y1] = [from.x + NODE_W, from.y + NODE_H / 2];
    const [x2, y2] = [to.x, to.y + NODE_H / 2];
    const bend = Math.max(20, (x2 - x1) / 2);
    graph.append(svg("path", { class: "edge", "marker-end": "url(#arrow)",
      d: `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}` }));
  }
  for (const n of plan.nodes) {
    const p = position.get(n.id);
    const g = svg("g", { ...nodeAttrs(n), transform: `translate(${p.x},${p.y})` });
    g.append(svg("title", {}, n.label));
    g.append(svg("rect", { width: NODE_W, height: NODE_H }));
    const title = n.kind === "operator" ? n.operator
      : n.name ? `${KIND_TITLES[n.kind]} ${n.name}` : n.label;
    g.append(svg("text", { class: "title", x: 8, y: 15 }, truncate(title, 28)));
    const label = n.kind === "operator" || n.kind === "sync" || n.kind === "alert" ? n.label : "";
    g.append(svg("text", { class: "label", x: 8, y: 30 }, truncate(label, 32)));
    g.append(svg("text", { class: "metric", x: 8, y: 46, "data-metric-of": n.id }, ""));
    graph.append(g);
  }
}

// The figure each node shows under its label.
function nodeMetric(n, samples) {
  const per = (name, label) => ({ count: total(samples, name, { [label]: n.name }),
    rate: rates[`${name}|${n.name}`] });
  switch (n.kind) {
    case "source": return `input: ${fmt(rates.events)} events/s`;
    case "output": {
      const { count, rate } = per("kvflow_pipeline_rows_out_total", "pipeline");
      return count === null ? "" : `${fmt(count)} rows · ${fmt(rate)}/s`;
    }
    case "sync": {
      const delivered = total(samples, "kvflow_sync_delivered_rows_total", { target: n.name });
      const failures = total(samples, "kvflow_sync_failures_total", { target: n.name });
      return delivered === null ? "not started" : `${fmt(delivered)} delivered · ${fmt(failures)} failed`;
    }
    case "alert": {
      const fired = total(samples, "kvflow_alerts_fired_total", { alert: n.name });
      return fired === null ? "" : `${fmt(fired)} fired`;
    }
    case "route": {
      const events = total(samples, "kvflow_route_events_total", { route: n.name });
      return events === null ? "" : `${fmt(events)} events`;
    }
    case "operator": {
      const records = nodeRecordsIn(n, samples);
      const state = operatorState(n, samples);
      const parts = [];
      if (records !== null) parts.push(`${fmt(records)} in`);
      if (state !== null) parts.push(`state ${fmt(state)}`);
      return parts.join(" · ");
    }
    default: return "";
  }
}

// The records into a node: those its first operator (the lowest id) received, on each worker
// (its later operators receive what the first passed on, or more, as updates).
function nodeRecordsIn(n, samples) {
  const first = new Map();
  for (const s of samples.get("kvflow_operator_records_in_total") || []) {
    if (s.labels.node !== n.id) continue;
    const seen = first.get(s.labels.worker);
    if (!seen || Number(s.labels.id) < Number(seen.labels.id)) first.set(s.labels.worker, s);
  }
  if (first.size === 0) return null;
  return [...first.values()].reduce((sum, s) => sum + s.value, 0);
}

// The state the operators a node built hold: their arrangements' updates and the entries of
// kvflow's own stateful operators (null when it built none that keeps state).
function operatorState(n, samples) {
  const figures = ["kvflow_arrangement_updates", "kvflow_operator_state_entries"]
    .map((name) => total(samples, name, { node: n.id }))
    .filter((v) => v !== null);
  return figures.length === 0 ? null : figures.reduce((a, b) => a + b, 0);
}

// ---- figures and tables ----

// Per-second rates of the counters the page shows: the change since the newest scrape at
// least RATE_WINDOW seconds of the run's uptime older (a moving average: counters move by
// batches), or since the run started (every counter 0) when there is none yet.
function updateRates(samples) {
  const uptime = total(samples, "kvflow_run_uptime_seconds");
  if (uptime === null || uptime <= 0) return;
  const counters = new Map();
  const add = (key, value) => { if (value !== null) counters.set(key, value); };
  add("events", total(samples, "kvflow_input_events_total"));
  add("rows", total(samples, "kvflow_pipeline_rows_out_total"));
  const labelled = [["kvflow_pipeline_rows_out_total", "pipeline"],
    ["kvflow_sync_delivered_rows_total", "target"], ["kvflow_sync_failures_total", "target"],
    ["kvflow_sync_dead_lettered_rows_total", "target"]];
  for (const [name, label] of labelled) {
    for (const v of labelValues(samples, name, label)) {
      add(`${name}|${v}`, total(samples, name, { [label]: v }));
    }
  }
  // NB: a new run on the same address starts its uptime again: forget the old one's scrapes.
  scrapes = scrapes.filter((scrape) => scrape.uptime < uptime);
  if (scrapes.length === 0) scrapes.push({ uptime: 0, counters: new Map() });
  let base = scrapes[0];
  for (const scrape of scrapes) if (scrape.uptime <= uptime - RATE_WINDOW) base = scrape;
  scrapes = scrapes.slice(scrapes.indexOf(base));
  rates = {};
  for (const [key, value] of counters) {
    const before = base.counters.get(key) || 0;
    rates[key] = Math.max(0, value - before) / (uptime - base.uptime);
  }
  scrapes.push({ uptime, counters });
}

function updateFigures(samples) {
  const byId = (id) => document.getElementById(id);
  const events = total(samples, "kvflow_input_events_total");
  const lag = total(samples, "kvflow_watermark_lag_milliseconds");
  const wall = total(samples, "kvflow_watermark_wall_clock_lag_seconds");
  const arranged = total(samples, "kvflow_arrangement_updates");
  const held = total(samples, "kvflow_operator_state_entries");
  const state = arranged === null && held === null ? null : (arranged || 0) + (held || 0);
  const uptime = total(samples, "kvflow_run_uptime_seconds");
  setFigure(byId("events-per-sec"), fmt(rates.events), rates.events);
  setFigure(byId("events-total"), fmt(events), events);
  setFigure(byId("rows-per-sec"), fmt(rates.rows), rates.rows);
  setFigure(byId("watermark-lag"), fmtMs(lag), lag);
  setFigure(byId("wall-clock-lag"), fmtSeconds(wall), wall);
  setFigure(byId("state-updates"), state === null ? "no state" : fmt(state), state);
  setFigure(byId("uptime"), fmtSeconds(uptime), uptime);
  if (rates.events !== undefined) push(history.events, rates.events);
  if (rates.rows !== undefined) push(history.rows, rates.rows);
  if (lag !== null) push(history.lag, lag);
}

function push(series, value) {
  series.push(value);
  if (series.length > HISTORY) series.shift();
}

function fillTable(id, rows, columns, empty = "none yet") {
  const body = document.querySelector(`#${id} tbody`);
  if (rows.length === 0) {
    body.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: columns }, empty)));
  } else {
    body.replaceChildren(...rows);
  }
}

// A cell with its raw value in `data-<attr>` and `data-value`.
function cell(text, attrs = {}) {
  return el("td", {}, el("span", attrs, text));
}

function updatePipelines(samples) {
  const name = "kvflow_pipeline_rows_out_total";
  const rows = labelValues(samples, name, "pipeline").map((p) => {
    const out = total(samples, name, { pipeline: p });
    const rate = rates[`${name}|${p}`];
    const late = total(samples, "kvflow_pipeline_late_rows_total", { pipeline: p });
    const errors = total(samples, "kvflow_pipeline_error_rows_total", { pipeline: p });
    return el("tr", {}, [
      el("td", {}, p),
      cell(fmt(out), { "data-rows-out": p, "data-value": out }),
      cell(fmt(rate), { "data-rows-per-sec": p, "data-value": rate }),
      cell(fmt(late), { "data-late-rows": p, "data-value": late }),
      cell(fmt(errors), { "data-error-rows": p, "data-value": errors }),
    ]);
  });
  fillTable("pipelines", rows, 5);
}

// Operators summed over the workers (an operator has the same id on each): the state an
// arrangement holds, the records received and the time scheduled; the largest state first,
// then the busiest.
function updateOperators(samples) {
  const byOperator = new Map();
  const add = (name, field) => {
    for (const s of samples.get(name) || []) {
      const key = `${s.labels.id}|${s.labels.operator}`;
      const entry = byOperator.get(key) || { id: s.labels.id, operator: s.labels.operator,
        updates: null, batches: null, records: null, scheduled: 0 };
      entry[field] = (entry[field] || 0) + s.value;
      byOperator.set(key, entry);
    }
  };
  add("kvflow_arrangement_updates", "updates");
  add("kvflow_operator_state_entries", "updates");
  add("kvflow_arrangement_batches", "batches");
  add("kvflow_operator_records_in_total", "records");
  add("kvflow_operator_scheduled_seconds_total", "scheduled");
  const rows = [...byOperator.values()]
    .sort((a, b) => (b.updates || 0) - (a.updates || 0) || (b.records || 0) - (a.records || 0) ||
      b.scheduled - a.scheduled)
    .slice(0, OPERATOR_ROWS)
    .map((op) => el("tr", { title: op.operator }, [
      el("td", {}, truncate(op.operator || "", 40)),
      el("td", {}, op.id || ""),
      cell(fmt(op.records)),
      cell(fmt(op.updates), { "data-state-updates": op.id, "data-value": op.updates }),
      cell(fmt(op.batches)),
      cell(fmtSeconds(op.scheduled)),
    ]));
  fillTable("operators", rows, 6);
}

// A sync target's health: its own gauge when the run has one, else failures that grew since
// the last scrape without a delivery.
function syncHealth(samples, t, rate) {
  const healthy = total(samples, "kvflow_sync_healthy", { target: t });
  const standby = total(samples, "kvflow_sync_standby_active", { target: t });
  const failing = healthy !== null ? healthy === 0
    : (rates[`kvflow_sync_failures_total|${t}`] || 0) > 0 && !(rate > 0);
  if (failing) return "failing";
  if ((rates[`kvflow_sync_dead_lettered_rows_total|${t}`] || 0) > 0) return "dropping rows";
  return standby ? "ok (standby)" : "ok";
}

// Sync targets, alerts and routes.
function updateSinks(samples) {
  const rows = [];
  const delivered = "kvflow_sync_delivered_rows_total";
  for (const t of labelValues(samples, delivered, "target")) {
    const get = (name) => total(samples, name, { target: t });
    const rate = rates[`${delivered}|${t}`];
    const health = syncHealth(samples, t, rate);
    rows.push(el("tr", { "data-sink": t }, [
      el("td", {}, `sync ${t}`),
      cell(fmt(get(delivered)), { "data-delivered": t, "data-value": get(delivered) }),
      cell(fmt(rate)),
      cell(fmt(get("kvflow_sync_queued_rows"))),
      cell(fmt(get("kvflow_sync_failures_total")), { "data-failures": t }),
      cell(fmt(get("kvflow_sync_retries_total"))),
      cell(fmt(get("kvflow_sync_dead_lettered_rows_total"))),
      el("td", { class: health.startsWith("ok") ? "ok" : "bad", "data-health": t }, health),
    ]));
    const node = document.querySelector(`#plan-graph [data-sync="${CSS.escape(t)}"]`);
    if (node) node.classList.toggle("failing", !health.startsWith("ok"));
  }
  for (const a of labelValues(samples, "kvflow_alerts_fired_total", "alert")) {
    const get = (name) => total(samples, name, { alert: a });
    const failures = get("kvflow_alerts_webhook_failures_total");
    rows.push(el("tr", { "data-sink": a }, [
      el("td", {}, `alert ${a}`),
      cell(fmt(get("kvflow_alerts_fired_total"))),
      el("td", {}, ""),
      el("td", {}, ""),
      cell(fmt(failures)),
      el("td", {}, ""),
      cell(fmt(get("kvflow_alerts_undelivered_total"))),
      el("td", { class: failures > 0 ? "bad" : "ok" },
        `${fmt(get("kvflow_alerts_suppressed_total"))} held back`),
    ]));
  }
  for (const r of labelValues(samples, "kvflow_route_events_total", "route")) {
    const blank = () => el("td", {}, "");
    rows.push(el("tr", { "data-sink": r }, [
      el("td", {}, `route ${r}`),
      cell(fmt(total(samples, "kvflow_route_events_total", { route: r }))),
      blank(), blank(), blank(), blank(), blank(), blank(),
    ]));
  }
  const sinks = plan.nodes.some((n) => ["sync", "alert", "route"].includes(n.kind));
  fillTable("sinks", rows, 8, sinks ? "none started yet" : "the plan has no sync targets, alerts or routes");
}

// ---- plots ----

function drawPlot(id, series, format) {
  const plot = document.getElementById(id);
  const [w, h, left, top, bottom] = [360, 110, 4, 14, 14];
  plot.replaceChildren();
  const max = Math.max(1e-9, ...series);
  // NB: the time axis spans the samples kept, at least a minute, at most HISTORY.
  const span = Math.min(HISTORY, Math.max(PLOT_MIN_SPAN, series.length));
  const x = (i) => left + (w - 2 * left) * (i + span - series.length) / (span - 1);
  const y = (v) => h - bottom - (h - top - bottom) * (v / max);
  plot.append(svg("line", { class: "plot-axis", x1: left, x2: w - left, y1: h - bottom, y2: h - bottom }));
  plot.append(svg("text", { class: "plot-text", x: left, y: 10 }, `max ${format(max)}`));
  const since = span >= 120 ? `−${Math.round(span / 60)} min` : `−${span} s`;
  plot.append(svg("text", { class: "plot-text", x: left, y: h - 2 }, since));
  const now = series.length ? format(series[series.length - 1]) : "–";
  plot.append(svg("text", { class: "plot-text", x: w - left, y: h - 2, "text-anchor": "end" }, `now ${now}`));
  if (series.length < 2) return;
  const points = series.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  const base = h - bottom;
  plot.append(svg("polygon", { class: "plot-area",
    points: `${x(0).toFixed(1)},${base} ${points.join(" ")} ${x(series.length - 1).toFixed(1)},${base}` }));
  plot.append(svg("polyline", { class: "plot-line", points: points.join(" ") }));
}

// ---- the loop ----

let plan = { nodes: [], edges: [] };

async function refresh() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("/metrics", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const samples = parseMetrics(await response.text());
    updateRates(samples);
    updateFigures(samples);
    updatePipelines(samples);
    updateOperators(samples);
    updateSinks(samples);
    for (const n of plan.nodes) {
      const node = document.querySelector(`#plan-graph [data-metric-of="${CSS.escape(n.id)}"]`);
      if (!node) continue;
      const text = nodeMetric(n, samples);
      if (n.kind === "operator") setFigure(node, text, operatorState(n, samples));
      else node.textContent = text;
    }
    drawPlot("plot-events", history.events, fmt);
    drawPlot("plot-rows", history.rows, fmt);
    drawPlot("plot-lag", history.lag, fmtMs);
    status.textContent = `live · ${new Date().toLocaleTimeString()}`;
    status.className = "status live";
  } catch (error) {
    status.textContent = `no metrics (the run may have ended): ${error.message}`;
    status.className = "status down";
  }
}

async function start() {
  try {
    const response = await fetch("/plan.json", { cache: "no-store" });
    plan = await response.json();
    drawPlan(plan);
  } catch (error) {
    document.getElementById("status").textContent = `no plan: ${error.message}`;
  }
  const loop = async () => {
    await refresh();
    setTimeout(loop, REFRESH_MS);
  };
  loop();
}

start();
