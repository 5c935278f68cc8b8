// The Costs and Monitor pages: Chart.js charts from the page's embedded JSON, and the Monitor's
// live log and active agents (its own stream, closed while the tab is hidden and resumed from the
// last event), the agents' elapsed time ticking in the page.
(function () {
  "use strict";

  const PALETTE = ["#2563eb", "#d97706", "#15803d", "#9333ea", "#b91c1c", "#0891b2", "#4b5563", "#db2777"];

  function readJson(id) {
    const node = document.getElementById(id);
    if (!node) return null;
    try { return JSON.parse(node.textContent || "null"); } catch (e) { return null; }
  }

  function usd(micros) { return micros / 1e6; }
  // An axis tick (a round number Chart.js picks, not an amount of the page): cents from a cent
  // up, two significant digits below, like the page's amounts (`shown_usd`).
  function axisUsd(value) {
    if (value === 0 || Math.abs(value) >= 0.01) return "$" + value.toFixed(2);
    return "$" + Number(value.toPrecision(2));
  }

  // A count on an axis: whole numbers only, large ones short ("45M", not "45,000,000").
  const COMPACT = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
  const countAxis = { beginAtZero: true, ticks: { precision: 0, callback: (value) => COMPACT.format(value) } };

  function costCharts(data) {
    const spend = document.getElementById("chart-spend");
    if (spend) {
      const datasets = Object.keys(data.by_runtime).map((runtime, i) => ({
        label: runtime,
        data: data.by_runtime[runtime].map(usd),
        backgroundColor: PALETTE[i % PALETTE.length],
        stack: "spend",
      }));
      new Chart(spend, {
        type: "bar",
        data: { labels: data.labels.map((d) => d.slice(5)), datasets: datasets },
        options: {
          maintainAspectRatio: false, animation: false,
          scales: { x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 6 } }, y: { stacked: true, beginAtZero: true, ticks: { callback: axisUsd } } },
          plugins: {
            legend: { display: datasets.length > 0, position: "bottom" },
            // amounts as the page shows them (the server's one rule), not Chart.js's rounding
            tooltip: { callbacks: { label: (c) => c.dataset.label + ": " + ((data.by_runtime_text[c.dataset.label] || [])[c.dataIndex] || "") } },
          },
        },
      });
    }
    const tokens = document.getElementById("chart-tokens");
    if (tokens) {
      new Chart(tokens, {
        type: "line",
        data: { labels: data.labels.map((d) => d.slice(5)), datasets: [{ label: "tokens", data: data.tokens, borderColor: PALETTE[0], backgroundColor: "rgba(37,99,235,0.15)", fill: true, pointRadius: data.labels.length < 2 ? 3 : 0, tension: 0.2 }] },
        options: { maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } }, scales: { x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 6 } }, y: countAxis } },
      });
    }
    const models = document.getElementById("chart-models");
    if (models && data.models.length) {
      new Chart(models, {
        type: "doughnut",
        data: {
          labels: data.models.map((m) => m.model || "(none)"),
          datasets: [{ data: data.models.map((m) => Math.round(m.share * 1000) / 10), backgroundColor: PALETTE }],
        },
        options: { maintainAspectRatio: false, animation: false, plugins: { legend: { position: "bottom" }, tooltip: { callbacks: { label: (c) => c.label + ": " + c.parsed + "%" } } } },
      });
    } else if (models) {
      models.replaceWith(Object.assign(document.createElement("p"), { className: "empty", textContent: "No spend yet." }));
    }
  }

  function activityChart(data) {
    const canvas = document.getElementById("chart-activity");
    if (!canvas) return;
    new Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: [{ label: "events", data: data.events, backgroundColor: PALETTE[0] }] },
      options: { maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } }, scales: { x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 6 } }, y: countAxis } },
    });
  }

  // Active agents' elapsed time ticks in the page: each cell's server figure plus the time
  // since it arrived.
  function stampElapsed() {
    const now = Date.now();
    document.querySelectorAll("td.elapsed[data-elapsed]").forEach((td) => { td.dataset.since = String(now); });
  }
  function elapsedText(seconds) {
    if (seconds >= 3600) return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
    return Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
  }
  function tickElapsed() {
    const now = Date.now();
    document.querySelectorAll("td.elapsed[data-elapsed]").forEach((td) => {
      const base = parseInt(td.dataset.elapsed || "0", 10) || 0;
      const since = parseInt(td.dataset.since || String(now), 10);
      td.textContent = elapsedText(base + Math.max(0, Math.floor((now - since) / 1000)));
    });
  }

  function liveLog(list) {
    const form = document.getElementById("log-filters");
    const state = document.getElementById("stream-state");
    let after = parseInt(list.dataset.after || "0", 10) || 0;
    let source = null;

    function visible(li) {
      if (!form || !li.dataset.kind) return true;
      const task = (form.elements.task.value || "").trim().toLowerCase();
      const runtime = form.elements.runtime.value;
      const kind = form.elements.kind.value;
      if (runtime && li.dataset.runtime !== runtime) return false;
      if (kind && li.dataset.kind !== kind) return false;
      if (task && !(li.dataset.title || "").includes(task) && !(li.dataset.task || "").toLowerCase().includes(task)) return false;
      return true;
    }
    function applyFilters() {
      list.querySelectorAll("li[data-kind]").forEach((li) => { li.hidden = !visible(li); });
    }
    function connect() {
      if (source) return;
      source = new EventSource("/ui/stream?topics=monitor&after=" + after);
      source.addEventListener("monitor-log", (event) => {
        if (event.lastEventId) after = parseInt(event.lastEventId, 10) || after;
        const empty = document.getElementById("log-empty");
        if (empty) empty.remove();
        const holder = document.createElement("ol");
        holder.innerHTML = event.data; // server-rendered, escaped by the template
        const items = Array.from(holder.children);
        items.reverse().forEach((li) => { li.hidden = !visible(li); list.prepend(li); });
        while (list.children.length > 1000) list.lastElementChild.remove();
      });
      source.addEventListener("monitor-agents", (event) => {
        const holder = document.createElement("div");
        holder.innerHTML = event.data; // server-rendered, escaped by the template
        holder.querySelectorAll("[data-part]").forEach((part) => {
          const target = document.getElementById(part.dataset.part);
          if (target) target.innerHTML = part.innerHTML;
        });
        stampElapsed();
      });
      if (state) state.textContent = "live";
    }
    function pause() {
      if (source) { source.close(); source = null; }
      if (state) state.textContent = "paused while this tab is hidden";
    }
    document.addEventListener("visibilitychange", () => { document.hidden ? pause() : connect(); });
    if (form) {
      form.addEventListener("input", applyFilters);
      form.addEventListener("submit", (e) => e.preventDefault());
    }
    applyFilters();
    if (!document.hidden) connect(); else pause();
  }

  function start() {
    if (typeof Chart !== "undefined") {
      Chart.defaults.font.size = 11;
      const costs = readJson("costs-data");
      if (costs) costCharts(costs);
      const activity = readJson("monitor-data");
      if (activity) activityChart(activity);
    }
    const log = document.getElementById("monitor-log");
    if (log) liveLog(log);
    if (document.getElementById("active-agents")) {
      stampElapsed();
      setInterval(tickElapsed, 1000);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
