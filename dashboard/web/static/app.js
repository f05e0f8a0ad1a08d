// The dashboard page: candles from /api/candles, live updates from /api/stream (server-sent
// events), the pipeline panel from the stream's `health` events. No build step, no CDN.
"use strict";

const LWC = window.LightweightCharts;
const INTERVALS = { "30s": 30, "1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400 };
const PAGE = 500; // candles per request

const state = {
  markets: [],        // [{exchange, product, first, last}]
  market: null,
  interval: "1m",
  bars: new Map(),    // time -> candle row from the API (exact decimal strings)
  appliedAt: new Map(), // time -> Date.now() when the row reached the chart
  earliest: null,     // the oldest time asked for
  loadingOlder: false,
  generation: 0,      // bumped on every product/interval change: late answers are dropped
  health: null,
  streamOpen: false,
  loaded: false,
};

const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

async function api(path) {
  let response;
  try {
    response = await fetch(path, { cache: "no-store" });
  } catch (error) {
    throw new ApiError(`the dashboard server cannot be reached (${error.message})`, 0);
  }
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new ApiError(body.error || `HTTP ${response.status}`, response.status);
  return body;
}

// --- chart ------------------------------------------------------------------------------

const chart = LWC.createChart($("chart"), {
  autoSize: true,
  layout: { background: { color: "#0f1116" }, textColor: "#c8ccd4" },
  grid: { vertLines: { color: "#1e222b" }, horzLines: { color: "#1e222b" } },
  timeScale: { timeVisible: true, secondsVisible: true, borderColor: "#30363d" },
  rightPriceScale: { borderColor: "#30363d" },
});
const candleSeries = chart.addSeries(LWC.CandlestickSeries, {
  upColor: "#26a69a", downColor: "#ef5350", borderVisible: false,
  wickUpColor: "#26a69a", wickDownColor: "#ef5350",
});
const volumeSeries = chart.addSeries(LWC.HistogramSeries, {
  priceScaleId: "volume", priceFormat: { type: "volume" }, lastValueVisible: false,
  priceLineVisible: false,
});
chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
const vwapSeries = chart.addSeries(LWC.LineSeries, {
  color: "#f5a623", lineWidth: 1, priceLineVisible: false, lastValueVisible: false,
  crosshairMarkerVisible: false, title: "VWAP",
});

const toCandle = (r) => ({ time: r.time, open: +r.open, high: +r.high, low: +r.low, close: +r.close });
const toVolume = (r) => ({ time: r.time, value: +r.volume,
  color: +r.close >= +r.open ? "rgba(38,166,154,0.5)" : "rgba(239,83,80,0.5)" });
const toVwap = (r) => ({ time: r.time, value: r.vwap });

function sortedBars() {
  return [...state.bars.values()].sort((a, b) => a.time - b.time);
}

function drawAll() {
  const rows = sortedBars();
  candleSeries.setData(rows.map(toCandle));
  volumeSeries.setData(rows.map(toVolume));
  vwapSeries.setData(rows.map(toVwap));
  $("empty").hidden = rows.length > 0;
  showLegend(rows[rows.length - 1]);
}

// Rows at or after the newest bar are drawn with update(); anything older redraws all.
function merge(rows) {
  const newest = state.bars.size ? Math.max(...state.bars.keys()) : -Infinity;
  const now = Date.now();
  for (const r of rows) {
    state.bars.set(r.time, r);
    state.appliedAt.set(r.time, now);
  }
  if (rows.every((r) => r.time >= newest)) {
    for (const r of [...rows].sort((a, b) => a.time - b.time)) {
      candleSeries.update(toCandle(r));
      volumeSeries.update(toVolume(r));
      vwapSeries.update(toVwap(r));
    }
    $("empty").hidden = state.bars.size > 0;
    showLegend(state.bars.get(Math.max(...state.bars.keys())));
  } else {
    drawAll();
  }
}

function showLegend(row) {
  if (!row) { $("legend").textContent = ""; return; }
  const t = new Date(row.time * 1000).toISOString().replace("T", " ").slice(0, 19);
  $("legend").textContent = `${state.market.product} ${state.interval} ${t} UTC  ` +
    `O ${row.open}  H ${row.high}  L ${row.low}  C ${row.close}  ` +
    `VWAP ${Number(row.vwap).toFixed(4)}  vol ${row.volume}  trades ${row.trade_count}`;
}

chart.subscribeCrosshairMove((param) => {
  if (param.time !== undefined && state.bars.has(param.time)) showLegend(state.bars.get(param.time));
});

// --- data -------------------------------------------------------------------------------

function candlesPath(from, to) {
  const q = new URLSearchParams({
    exchange: state.market.exchange, product: state.market.product, interval: state.interval,
    from: String(from), to: String(to),
  });
  return `/api/candles?${q}`;
}

async function loadLatest() {
  const generation = ++state.generation;
  const seconds = INTERVALS[state.interval];
  const to = state.market.last + seconds;
  const from = to - PAGE * seconds;
  const body = await api(candlesPath(from, to));
  if (generation !== state.generation) return;
  state.bars.clear();
  state.appliedAt.clear();
  state.earliest = body.from;
  for (const r of body.candles) state.bars.set(r.time, r);
  drawAll();
  chart.timeScale().fitContent();
  state.loaded = true;
  clearError("data");
}

async function loadOlder() {
  const first = state.market.first;
  if (state.loadingOlder || state.earliest === null || state.earliest <= first) return;
  state.loadingOlder = true;
  const generation = state.generation;
  try {
    const seconds = INTERVALS[state.interval];
    const to = state.earliest;
    const from = Math.max(to - PAGE * seconds, first - (first % seconds));
    const body = await api(candlesPath(from, to));
    if (generation !== state.generation) return;
    state.earliest = body.from;
    for (const r of body.candles) if (!state.bars.has(r.time)) state.bars.set(r.time, r);
    drawAll();
  } catch (error) {
    showError("data", error.message);
  } finally {
    state.loadingOlder = false;
  }
}

chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
  if (range && range.from < 10 && state.loaded) loadOlder();
});

// A `windows` event: re-read the span it touched, at the page's interval.
async function onWindows(changes) {
  for (const change of changes) {
    const known = state.markets.find((m) => m.exchange === change.exchange &&
                                            m.product === change.product);
    if (known) known.last = Math.max(known.last, change.to);
    if (!state.market || change.exchange !== state.market.exchange ||
        change.product !== state.market.product) continue;
    state.market.last = Math.max(state.market.last, change.to);
    if (!state.loaded) continue;
    const seconds = INTERVALS[state.interval];
    const from = change.from - (change.from % seconds);
    const generation = state.generation;
    try {
      const body = await api(candlesPath(from, change.to + seconds));
      if (generation === state.generation) merge(body.candles);
      clearError("data");
    } catch (error) {
      showError("data", error.message);
    }
  }
}

// --- errors -----------------------------------------------------------------------------

const errors = new Map(); // source -> message

function showError(source, message) {
  errors.set(source, message);
  renderErrors();
}

function clearError(source) {
  errors.delete(source);
  renderErrors();
}

function renderErrors() {
  const box = $("error");
  box.hidden = errors.size === 0;
  box.textContent = [...errors.values()].join(" · ");
}

// --- pipeline panel ---------------------------------------------------------------------

const fmt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));

function ago(seconds) {
  if (seconds === null || seconds === undefined) return "";
  return seconds < 120 ? `${Math.round(seconds)} s ago` : `${Math.round(seconds / 60)} min ago`;
}

function reasons(list) {
  return list && list.length ? ` — latest: ${list.map((r) => r.reason).join("; ")}` : "";
}

function showHealth(health) {
  state.health = health;
  $("panel").dataset.state = health.state;
  const pill = $("panel-state");
  pill.dataset.state = health.state;
  pill.textContent = health.state;
  $("problems").replaceChildren(...health.problems.map((p) => {
    const li = document.createElement("li");
    li.textContent = p;
    return li;
  }));
  const p = health.producer || {};
  $("m-rate").textContent = p.records_per_s === null || p.records_per_s === undefined ? "–"
    : `${fmt(p.records_per_s)} trades/s` + (p.idle_s > 2 ? ` (last trade ${ago(p.idle_s)})` : "");
  const k = health.kafka || {};
  $("m-lag").textContent = k.lag === null || k.lag === undefined ? "–" : `${fmt(k.lag)} records`;
  const j = health.job;
  $("m-batch").textContent = j ? `#${j.batch_id}: ${fmt(j.input_rows)} rows in ` +
    `${fmt(j.duration_ms)} ms, ${ago(j.age_s)}` : "–";
  const w = health.newest_window;
  $("m-window").textContent = w ? `${w.window_start.replace("T", " ").slice(0, 19)} UTC, ` +
    `written ${ago(w.written_age_s)}` : "–";
  const r = health.rejected || {};
  $("m-rejected").textContent = r.count === null || r.count === undefined ? "–"
    : `${fmt(r.count)}${reasons(r.reasons)}`;
  $("m-dead-letters").textContent = k.dead_letters === null || k.dead_letters === undefined
    ? "–" : `${fmt(k.dead_letters)}${reasons(k.dead_letter_reasons)}`;
  const b = health.backfill;
  $("m-backfill").textContent = b ? `${fmt(b.gaps_filled)} filled, ${fmt(b.gaps_unfillable)} ` +
    `unfillable of ${fmt(b.gaps)} gaps; ${fmt(b.trades_backfilled)} trades, slowest ` +
    `${fmt(b.backfill_latency_max_ms)} ms (${ago(b.age_s)})` : "– (producer --stats-table off)";
  const clickhouse = health.problems.find((text) => text.startsWith("ClickHouse"));
  if (clickhouse) showError("clickhouse", `${clickhouse} — the chart shows the last data read.`);
  else if (errors.has("clickhouse")) {
    clearError("clickhouse");
    if (!state.loaded || errors.has("data")) start();
  }
}

// --- live stream ------------------------------------------------------------------------

function connect() {
  const source = new EventSource("/api/stream");
  const live = $("live");
  source.onopen = () => {
    state.streamOpen = true;
    live.dataset.state = "live";
    live.textContent = "live";
    clearError("stream");
  };
  source.onerror = () => {
    state.streamOpen = false;
    live.dataset.state = "offline";
    live.textContent = "offline";
    showError("stream", "the live stream from the dashboard server is down; reconnecting…");
  };
  source.addEventListener("health", (e) => showHealth(JSON.parse(e.data)));
  source.addEventListener("windows", (e) => onWindows(JSON.parse(e.data)));
}

// --- controls ---------------------------------------------------------------------------

function fromHash() {
  const [product, interval] = decodeURIComponent(location.hash.slice(1)).split("/");
  return { product, interval: INTERVALS[interval] ? interval : null };
}

function writeHash() {
  history.replaceState(null, "", `#${state.market.product}/${state.interval}`);
}

function markActive() {
  for (const button of document.querySelectorAll("#intervals button")) {
    button.classList.toggle("active", button.dataset.interval === state.interval);
  }
}

async function start() {
  try {
    state.markets = await api("/api/products");
    const select = $("product");
    const chosen = state.market ? state.market.product : fromHash().product;
    select.replaceChildren(...state.markets.map((m, i) => {
      const option = document.createElement("option");
      option.value = String(i);
      option.textContent = state.markets.filter((x) => x.product === m.product).length > 1
        ? `${m.product} (${m.exchange})` : m.product;
      return option;
    }));
    if (!state.markets.length) {
      $("empty").hidden = false;
      $("empty").textContent = "No windows in ClickHouse yet: is the job running?";
      setTimeout(start, 3000);
      return;
    }
    const index = Math.max(0, state.markets.findIndex((m) => m.product === chosen));
    select.value = String(index);
    state.market = { ...state.markets[index] };
    writeHash();
    markActive();
    await loadLatest();
  } catch (error) {
    showError("data", error.message);
  }
}

$("product").addEventListener("change", (e) => {
  state.market = { ...state.markets[Number(e.target.value)] };
  state.loaded = false;
  writeHash();
  loadLatest().catch((error) => showError("data", error.message));
});

document.querySelectorAll("#intervals button").forEach((button) => {
  button.addEventListener("click", () => {
    state.interval = button.dataset.interval;
    state.loaded = false;
    markActive();
    writeHash();
    loadLatest().catch((error) => showError("data", error.message));
  });
});

state.interval = fromHash().interval || state.interval;
markActive();

// For tools and the browser tests: what the chart holds, read from the chart itself.
window.cryptostream = {
  state,
  chartData: () => ({
    candles: candleSeries.data(), volume: volumeSeries.data(), vwap: vwapSeries.data(),
  }),
};

connect();
start();
