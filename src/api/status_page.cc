#include "api/status_page.h"

namespace keycache {
namespace {

// Every figure the script writes goes into an element with an id, as text, and into its
// data-raw attribute as the value it came from (tests/integration/status_page_test.cc compares
// those with /health/cache).
constexpr std::string_view kHtml = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>keycache status</title>
<style>
  :root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
         color: #1f2328; background: #f6f8fa; }
  header { display: flex; align-items: baseline; gap: 16px; padding: 16px 24px;
           background: #fff; border-bottom: 1px solid var(--line); }
  h1 { margin: 0; font-size: 20px; }
  h2 { margin: 0 0 8px; font-size: 13px; font-weight: 600; color: var(--muted);
       text-transform: uppercase; letter-spacing: .04em; }
  main { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr));
         gap: 16px; padding: 16px 24px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 14px; }
  .big { font-size: 30px; font-weight: 600; font-variant-numeric: tabular-nums; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  td { padding: 3px 0; border-bottom: 1px solid #eaeef2; }
  td:last-child { text-align: right; }
  .pill { display: inline-block; padding: 2px 10px; border-radius: 999px; color: #fff;
          font-weight: 600; background: var(--muted); }
  .pill.healthy, .pill.closed, .pill.up { background: var(--ok); }
  .pill.degraded, .pill.pending { background: var(--warn); }
  .pill.unhealthy, .pill.open, .pill.down, .pill.unreachable { background: var(--bad); }
  .muted { color: var(--muted); }
  #error { color: var(--bad); }
</style>
</head>
<body>
<header>
  <h1>keycache</h1>
  <span id="status" class="pill" data-raw="">loading</span>
  <span class="muted">updated <span id="updated">never</span>
    (<span id="polls" data-raw="0">0</span> polls, every 2 s)</span>
  <span id="error"></span>
</header>
<main>
  <section>
    <h2>Hit rate (last minute)</h2>
    <div class="big" id="hit-rate" data-raw="">–</div>
    <div class="muted">of <span id="window-lookups" data-raw="">–</span> lookups answered
      without the database</div>
    <table id="tier-rates"></table>
  </section>
  <section>
    <h2>Verifications per second</h2>
    <div class="big" id="verify-rate" data-raw="">–</div>
    <table id="by-outcome"></table>
    <table id="by-cache-status"></table>
    <div class="muted">total <span id="verifications-total" data-raw="">–</span></div>
  </section>
  <section>
    <h2>In-process cache (L1)</h2>
    <table>
      <tr><td>validation</td><td id="entries-validation" data-raw="">–</td></tr>
      <tr><td>scope decisions</td><td id="entries-scope" data-raw="">–</td></tr>
      <tr><td>owner lists</td><td id="entries-userList" data-raw="">–</td></tr>
      <tr><td>usage counters</td><td id="entries-usage" data-raw="">–</td></tr>
      <tr><td>negative</td><td id="entries-negative" data-raw="">–</td></tr>
      <tr><td>total entries</td><td id="total-entries" data-raw="">–</td></tr>
      <tr><td>memory</td><td id="memory" data-raw="">–</td></tr>
    </table>
  </section>
  <section>
    <h2>Redis</h2>
    <div><span id="redis-state" class="pill" data-raw="">–</span>
      breaker <span id="breaker" class="pill" data-raw="">–</span></div>
    <table id="redis-details"></table>
  </section>
  <section>
    <h2>Invalidation lag</h2>
    <table>
      <tr><td>p50</td><td id="lag-p50" data-raw="">–</td></tr>
      <tr><td>p99</td><td id="lag-p99" data-raw="">–</td></tr>
      <tr><td>messages applied</td><td id="lag-count" data-raw="">–</td></tr>
    </table>
  </section>
  <section>
    <h2>Database</h2>
    <table>
      <tr><td>mean load latency</td><td id="db-latency" data-raw="">–</td></tr>
      <tr><td>loads</td><td id="db-loads" data-raw="">–</td></tr>
      <tr><td>store reads</td><td id="store-reads" data-raw="">–</td></tr>
    </table>
  </section>
</main>
<script>
"use strict";
const POLL_MS = 2000;
let previous = null;  // {at, totals by label} of the last /metrics poll

function set(id, text, raw) {
  const el = document.getElementById(id);
  if (!el) return;
  el.textContent = text;
  el.dataset.raw = raw === undefined ? String(text) : String(raw);
}
function pill(id, word) {
  const el = document.getElementById(id);
  el.className = "pill " + word;
  set(id, word);
}
function plain(x, digits) {  // a plain decimal, never 9.5e-1
  return Number(x).toFixed(digits);
}
function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; }
  return plain(n, i ? 1 : 0) + " " + units[i];
}
function seconds(s) {
  if (s === null || !isFinite(s)) return "–";
  return s < 1 ? plain(s * 1000, 2) + " ms" : plain(s, 2) + " s";
}
function rows(tableId, entries) {
  const t = document.getElementById(tableId);
  t.replaceChildren();
  for (const [name, value, raw] of entries) {
    const tr = t.insertRow();
    tr.insertCell().textContent = name;
    const td = tr.insertCell();
    td.textContent = value;
    td.dataset.name = name;
    td.dataset.raw = raw === undefined ? String(value) : String(raw);
  }
}

// Prometheus text format: [{name, labels: {..}, value}].
function parseMetrics(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[3]) {
      for (const l of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[l[1]] = l[2];
      }
    }
    out.push({name: m[1], labels, value: Number(m[4])});
  }
  return out;
}
function sumBy(samples, name, label) {
  const by = {};
  for (const s of samples) {
    if (s.name !== name) continue;
    const key = label ? (s.labels[label] || "") : "";
    by[key] = (by[key] || 0) + s.value;
  }
  return by;
}
function showHealth(h) {
  pill("status", h.status);
  const c = h.cache || {};
  set("hit-rate", c.hitRate === undefined ? "–" : plain(c.hitRate * 100, 1) + " %", c.hitRate);
  set("window-lookups", String(c.windowLookups), c.windowLookups);
  const tiers = [];
  for (const [tier, rate] of Object.entries(c.hitRateByTier || {})) {
    tiers.push([tier, plain(rate * 100, 1) + " %", rate]);
  }
  rows("tier-rates", tiers);
  const b = c.breakdown || {};
  for (const k of ["validation", "scope", "userList", "usage"]) set("entries-" + k, String(b[k]), b[k]);
  set("entries-negative", String(c.negativeEntries), c.negativeEntries);
  set("total-entries", String(c.totalEntries), c.totalEntries);
  set("memory", bytes(c.memoryBytes) + " of " + bytes(c.memoryLimitBytes), c.memoryBytes);
  // The propagation lag of whichever invalidation channel there is (bucket upper bounds).
  const channel = c.redis || c.postgresChannel;
  const lag = channel && channel.propagationLag;
  set("lag-p50", lag ? seconds(lag.p50Seconds) : "–", lag ? lag.p50Seconds : "");
  set("lag-p99", lag ? seconds(lag.p99Seconds) : "–", lag ? lag.p99Seconds : "");
  set("lag-count", lag ? String(lag.samples) : "– (no channel)", lag ? lag.samples : "");
  const r = c.redis;
  if (!r) {
    pill("redis-state", "off");
    pill("breaker", "none");
    rows("redis-details", [["channel", c.postgresChannel
        ? (c.postgresChannel.listening ? "PostgreSQL NOTIFY, listening" : "PostgreSQL NOTIFY, down")
        : "none (one instance)"]]);
    return;
  }
  pill("redis-state", r.connected ? "up" : "down");
  pill("breaker", r.breaker);
  const details = [["pool", r.poolConnected + " / " + r.poolSize]];
  if (r.breakerReason) details.push(["breaker reason", r.breakerReason]);
  if (r.lastError) details.push(["last error", r.lastError]);
  if (r.sentinel) details.push(["primary (Sentinel)", String(r.sentinel.primary)]);
  if (r.entries) {
    details.push(["Redis validation entries", String(r.entries.validation)]);
    details.push(["Redis owner lists", String(r.entries.userList)]);
  }
  rows("redis-details", details);
}

function showMetrics(samples, at) {
  const byCode = sumBy(samples, "keycache_verifications_total", "code");
  const byStatus = sumBy(samples, "keycache_verifications_total", "cache_status");
  const total = Object.values(byCode).reduce((a, b) => a + b, 0);
  set("verifications-total", String(total), total);
  if (previous) {
    const dt = (at - previous.at) / 1000;
    const rate = (now, before) => Math.max(0, (now - (before || 0)) / dt);
    set("verify-rate", plain(rate(total, previous.total), 1) + " /s", rate(total, previous.total));
    rows("by-outcome", Object.keys(byCode).sort().map(
        k => [k, plain(rate(byCode[k], previous.byCode[k]), 1) + " /s"]));
    rows("by-cache-status", Object.keys(byStatus).sort().map(
        k => [k, plain(rate(byStatus[k], previous.byStatus[k]), 1) + " /s"]));
  }
  previous = {at, total, byCode, byStatus};
  const load = samples.filter(s => s.name.startsWith("cache_operation_duration_seconds") &&
                                   s.labels.operation === "load");
  const sum = load.filter(s => s.name.endsWith("_sum")).reduce((a, s) => a + s.value, 0);
  const count = load.filter(s => s.name.endsWith("_count")).reduce((a, s) => a + s.value, 0);
  set("db-latency", count ? seconds(sum / count) : "–", count ? sum / count : "");
  set("db-loads", String(count), count);
  const reads = sumBy(samples, "keycache_store_reads_total")[""];
  set("store-reads", String(reads), reads);
}

async function poll() {
  try {
    const [health, metrics] = await Promise.all([
      fetch("/health/cache", {cache: "no-store"}).then(r => r.json()),
      fetch("/metrics", {cache: "no-store"}).then(r => r.ok ? r.text() : "")]);
    showHealth(health);
    showMetrics(parseMetrics(metrics), Date.now());
    set("error", "");
    set("updated", new Date().toLocaleTimeString());
    const polls = Number(document.getElementById("polls").dataset.raw) + 1;
    set("polls", String(polls), polls);
  } catch (e) {
    set("error", "cannot reach keycached: " + e);
  }
}
poll();
setInterval(poll, POLL_MS);
</script>
</body>
</html>
)html";

}  // namespace

std::string_view StatusPageHtml() { return kHtml; }

}  // namespace keycache
