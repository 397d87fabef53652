// The live training-session page. State comes from a snapshot (embedded in the page, then sent
// by the websocket on every (re)connect), then from the event stream; if the socket cannot be
// used, the page polls the REST detail endpoint instead and says so. Message format: README,
// "Websocket messages" (v1). Unknown messages are ignored.
(function () {
  "use strict";
  const page = document.getElementById("session-page");
  if (!page) return;
  const TERMINAL = ["done", "failed", "cancelled"];
  const state = { session: {}, epochs: new Map(), log: [], watchers: [], followLatest: true };
  const $ = (id) => document.getElementById(id);
  const fmt = (v, d = 3) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toFixed(d));

  // ------------------------------------------------------------ charts
  const charts = {};
  const lineChart = (id, series) => {
    const canvas = $(id);
    if (!canvas || !window.Chart) return null;
    return new Chart(canvas, {
      type: "line",
      data: { labels: [], datasets: series.map(([label, color]) => ({ label, borderColor: color, backgroundColor: color, data: [], spanGaps: true })) },
      options: { animation: false, responsive: true, scales: { x: { title: { display: true, text: "epoch" } } } },
    });
  };
  charts.loss = lineChart("chart-loss", [["train loss", "#2b7bb9"], ["validation loss", "#c2577a"]]);
  charts.accuracy = lineChart("chart-accuracy", [["train accuracy", "#2b7bb9"], ["validation accuracy", "#c2577a"], ["balanced accuracy", "#3a9d5d"]]);
  charts.f1 = lineChart("chart-f1", [["validation macro F1", "#c2577a"]]);

  function renderCharts() {
    const epochs = [...state.epochs.values()].sort((a, b) => a.epoch - b.epoch);
    const set = (chart, keys) => {
      if (!chart) return;
      chart.data.labels = epochs.map((e) => e.epoch);
      keys.forEach((k, i) => { chart.data.datasets[i].data = epochs.map((e) => e[k]); });
      chart.update("none");
    };
    set(charts.loss, ["train_loss", "val_loss"]);
    set(charts.accuracy, ["train_accuracy", "accuracy", "balanced_accuracy"]);
    set(charts.f1, ["macro_f1"]);
  }

  // ------------------------------------------------------------ per-class table + heatmap
  const slider = $("epoch-slider");
  function renderEpochDetail() {
    const numbers = [...state.epochs.keys()].sort((a, b) => a - b);
    if (!numbers.length) return;
    slider.disabled = numbers.length < 2;
    slider.min = numbers[0]; slider.max = numbers[numbers.length - 1];
    if (state.followLatest) slider.value = slider.max;
    const e = state.epochs.get(Number(slider.value)) || state.epochs.get(numbers[numbers.length - 1]);
    $("epoch-label").textContent = e.epoch + (e.stage ? " (" + e.stage + ")" : "");
    const classes = e.classes && e.classes.length ? e.classes : Object.keys(e.per_class || {});
    const tbody = $("per-class").querySelector("tbody");
    tbody.replaceChildren(...classes.map((c) => {
      const m = (e.per_class || {})[c] || {};
      const tr = document.createElement("tr");
      [c, fmt(m.precision), fmt(m.recall), fmt(m.f1), m.support ?? "–"].forEach((v, i) => {
        const td = document.createElement("td"); td.textContent = v; if (i) td.className = "text-end"; tr.appendChild(td);
      });
      return tr;
    }));
    renderConfusion(classes, e.confusion_matrix || []);
  }
  function renderConfusion(classes, matrix) {
    const table = $("confusion");
    table.replaceChildren();
    if (!matrix.length) return;
    const head = document.createElement("tr");
    head.appendChild(document.createElement("th"));
    classes.forEach((c) => { const th = document.createElement("th"); th.className = "rot"; th.textContent = c; head.appendChild(th); });
    table.appendChild(head);
    matrix.forEach((row, i) => {
      const total = row.reduce((a, b) => a + b, 0) || 1;
      const tr = document.createElement("tr");
      const th = document.createElement("th"); th.textContent = classes[i] ?? i; tr.appendChild(th);
      row.forEach((v, j) => {
        const td = document.createElement("td");
        const share = v / total;
        td.textContent = v;
        td.title = `${classes[i]} → ${classes[j]}: ${v} (${Math.round(share * 100)} %)`;
        const hue = i === j ? "58, 157, 93" : "194, 87, 122";
        td.style.background = `rgba(${hue}, ${Math.min(0.9, share).toFixed(2)})`;
        if (share > 0.5) td.style.color = "#fff";
        tr.appendChild(td);
      });
      table.appendChild(tr);
    });
  }
  slider && slider.addEventListener("input", () => {
    state.followLatest = slider.value === slider.max;
    renderEpochDetail();
  });

  // ------------------------------------------------------------ progress, status, log, people
  function eta(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.max(0, Math.round(seconds));
    return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min` : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
  }
  function renderProgress() {
    const s = state.session;
    const fact = (k, v) => { const el = page.querySelector(`[data-fact="${k}"]`); if (el) el.textContent = v; };
    fact("stage", s.stage || "–");
    fact("epoch", s.epoch ?? 0); fact("total_epochs", s.total_epochs ?? 0);
    fact("step", s.step ?? 0); fact("total_steps", s.total_steps ?? 0);
    fact("last_loss", fmt(s.last_loss, 4)); fact("images_per_s", fmt(s.images_per_s, 1));
    fact("eta", TERMINAL.includes(s.status) ? "–" : eta(s.eta_s));
    const pct = Math.round((s.fraction || 0) * 100);
    const bar = $("progress-bar");
    bar.style.width = pct + "%"; bar.textContent = pct + "%";
    bar.classList.toggle("progress-bar-striped", s.status === "running");
    bar.classList.toggle("progress-bar-animated", s.status === "running");
    bar.classList.toggle("bg-danger", s.status === "failed");
    bar.classList.toggle("bg-secondary", s.status === "cancelled");
    bar.classList.toggle("bg-success", s.status === "done");
  }
  function renderStatus() {
    const s = state.session;
    const badge = $("status-badge").querySelector(".badge");
    if (badge && s.status) {
      badge.textContent = s.status + (s.cancel_requested && s.status === "running" ? " (cancelling)" : "");
      badge.className = "badge status-badge " + ({ done: "text-bg-success", failed: "text-bg-danger", cancelled: "text-bg-secondary", running: "text-bg-primary" }[s.status] || "text-bg-light");
    }
    page.querySelectorAll(".action[data-show-when]").forEach((el) => {
      el.classList.toggle("d-none", !el.dataset.showWhen.split(" ").includes(s.status));
    });
    const err = $("session-error");
    err.textContent = s.error || ""; err.classList.toggle("d-none", !s.error);
    const best = $("best-metrics").querySelector("tbody");
    const rows = [];
    const add = (label, m) => m && Object.keys(m).length && rows.push([label, m]);
    add("validation, best epoch " + (s.best_epoch ?? "–"), s.best_metrics);
    add("test (best checkpoint)", s.test_metrics);
    best.replaceChildren(...rows.map(([label, m]) => {
      const tr = document.createElement("tr");
      const name = document.createElement("td");
      const figures = document.createElement("td");
      name.textContent = label;
      figures.className = "text-end";
      figures.textContent = ["macro_f1", "balanced_accuracy", "accuracy"].filter((k) => m[k] !== undefined && m[k] !== null)
        .map((k) => `${k.replace("_", " ")} ${fmt(m[k])}`).join(" · ");
      tr.append(name, figures);
      return tr;
    }));
  }
  function renderLog() {
    const box = $("log-tail");
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
    box.replaceChildren(...state.log.slice(-200).map((l) => {
      const div = document.createElement("div");
      div.className = "lvl-" + (l.level || "info");
      div.textContent = `${(l.at || "").replace("T", " ").slice(0, 19)}  ${l.message}`;
      return div;
    }));
    if (atBottom) box.scrollTop = box.scrollHeight;
  }
  function renderWatchers() {
    const box = $("watchers");
    const people = state.watchers || [];
    box.replaceChildren(document.createTextNode("Watching now: "));
    if (!people.length) { box.appendChild(document.createTextNode("nobody else")); return; }
    people.forEach((p) => {
      const span = document.createElement("span");
      span.className = "watcher";
      span.textContent = p.username + (p.connections > 1 ? ` (${p.connections} tabs)` : "");
      box.appendChild(span);
    });
  }
  function renderAll() { renderProgress(); renderStatus(); renderCharts(); renderEpochDetail(); renderLog(); renderWatchers(); }

  // ------------------------------------------------------------ state updates
  function applySnapshot(snap) {
    state.session = snap.session || state.session;
    state.epochs = new Map((snap.epochs || []).map((e) => [e.epoch, e]));
    state.log = snap.log_tail || [];
    if (snap.watchers) state.watchers = snap.watchers;
    renderAll();
  }
  function applyEvent(msg) {
    switch (msg.event) {
      case "batch":
        Object.assign(state.session, {
          stage: msg.stage, epoch: msg.epoch || state.session.epoch, step: msg.step, total_steps: msg.total_steps,
          eta_s: msg.eta_s, images_per_s: msg.images_per_s, status: state.session.status === "queued" ? "running" : state.session.status,
        });
        if (msg.loss !== null && msg.loss !== undefined) state.session.last_loss = msg.loss;
        if (msg.fraction !== null && msg.fraction !== undefined) state.session.fraction = msg.fraction;
        renderProgress();
        break;
      case "epoch":
        state.epochs.set(msg.epoch.epoch, msg.epoch);
        state.session.epoch = msg.epoch.epoch;
        if (msg.total_epochs) state.session.total_epochs = msg.total_epochs;
        state.session.fraction = msg.epoch.epoch / (state.session.total_epochs || 1);
        renderCharts(); renderEpochDetail(); renderProgress();
        break;
      case "log":
        if (msg.line) { state.log.push(msg.line); renderLog(); }
        break;
      case "status":
        if (msg.session) state.session = msg.session;
        else if (msg.status) state.session.status = msg.status;
        if (msg.total_epochs) state.session.total_epochs = msg.total_epochs;
        renderProgress(); renderStatus();
        break;
      case "presence":
        state.watchers = msg.watchers || []; renderWatchers();
        break;
      default: break; // newer server, older page: ignore what we do not know
    }
  }

  // ------------------------------------------------------------ transport: websocket, else poll
  let pollTimer = null, pingTimer = null, socketOk = false;
  function poll() {
    fetch(page.dataset.api, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
      .then((detail) => applySnapshot({ session: detail, epochs: detail.epochs, log_tail: detail.log_tail }))
      .catch(() => {})
      .finally(() => { if (!socketOk) pollTimer = setTimeout(poll, 3000); });
  }
  function startPolling() {
    if (pollTimer) return;
    window.SkinLive && SkinLive.notice("Live updates unavailable, refreshing every few seconds.");
    pollTimer = setTimeout(poll, 100);
  }
  function stopPolling() {
    clearTimeout(pollTimer); pollTimer = null;
    window.SkinLive && SkinLive.notice("");
  }
  applySnapshot(JSON.parse($("session-initial").textContent));
  const config = JSON.parse($("session-config").textContent);
  $("config-json").textContent = JSON.stringify(config, null, 2);

  if (window.SkinLive && window.WebSocket) {
    const live = SkinLive.connect(page.dataset.ws, {
      onOpen(ws) {
        socketOk = true; stopPolling();
        clearInterval(pingTimer);
        pingTimer = setInterval(() => { try { ws.send(JSON.stringify({ type: "ping" })); } catch (e) { /* reconnecting */ } }, 25000);
      },
      onMessage(msg) {
        if (msg.type === "snapshot") applySnapshot(msg);
        else if (msg.type === "event") applyEvent(msg);
      },
      onClose() { socketOk = false; clearInterval(pingTimer); startPolling(); },
    });
    window.addEventListener("beforeunload", () => live.close());
  } else {
    startPolling();
  }
})();
