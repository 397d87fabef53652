// Feedback dashboard (admin): draws the charts from the JSON the page embeds. Chart.js is vendored.
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;
  const read = (id) => {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  };
  const palette = ["#c2577a", "#3b6ea8", "#4c9a5b", "#d08a2e", "#7a5cc2", "#5aa6a6", "#9a9a9a"];
  const pct = (v) => (v === null || v === undefined ? null : Math.round(v * 1000) / 10);

  const models = read("fb-models-data") || [];
  const modelCanvas = document.getElementById("fb-chart-models");
  if (modelCanvas && models.length) {
    new Chart(modelCanvas, {
      type: "bar",
      data: {
        labels: models.map((m) => m.label + (m.is_production ? " ★" : "")),
        datasets: [
          { label: "Reported accuracy (%)", data: models.map((m) => pct(m.reported_accuracy)), backgroundColor: palette[0] },
          { label: "Held-out accuracy (%)", data: models.map((m) => pct(m.held_out && m.held_out.accuracy)), backgroundColor: palette[1] },
        ],
      },
      options: { scales: { y: { min: 0, max: 100 } }, plugins: { tooltip: { callbacks: {
        afterBody: (items) => {
          const m = models[items[0].dataIndex];
          return m.interval ? `95 % interval ${pct(m.interval[0])}–${pct(m.interval[1])} %, n=${m.judged}` : `n=${m.judged}`;
        } } } } },
    });
  }

  const overTime = read("fb-over-time") || [];
  const timeCanvas = document.getElementById("fb-chart-time");
  if (timeCanvas) {
    const keys = [...new Set(overTime.flatMap((p) => Object.keys(p.ratings)))];
    new Chart(timeCanvas, {
      data: {
        labels: overTime.map((p) => p.period),
        datasets: [
          { type: "bar", label: "Responses", data: overTime.map((p) => p.responses), backgroundColor: "#dde3ea", yAxisID: "y" },
          ...keys.map((k, i) => ({ type: "line", label: `Mean “${k}”`, data: overTime.map((p) => p.ratings[k] ?? null),
            borderColor: palette[i % palette.length], yAxisID: "r", spanGaps: true })),
        ],
      },
      options: { scales: { y: { beginAtZero: true, position: "left", title: { display: true, text: "responses" } },
                           r: { min: 1, max: 5, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "mean rating" } } } },
    });
  }

  const stats = read("fb-stats");
  if (!stats) return;
  document.querySelectorAll(".fb-chart-q").forEach((canvas) => {
    const q = stats.questions[Number(canvas.dataset.index)];
    let labels = [], values = [];
    if (q.kind === "rating") { labels = ["1", "2", "3", "4", "5"]; values = labels.map((r) => q.distribution[r] || 0); }
    else if (q.kind === "correction") { labels = Object.keys(q.classes); values = Object.values(q.classes); }
    else if (q.choices) { labels = q.choices.map((c) => c.value); values = q.choices.map((c) => c.count); }
    new Chart(canvas, {
      type: "bar",
      data: { labels, datasets: [{ label: q.kind === "correction" ? "named as what it really is" : "answers", data: values, backgroundColor: palette[1] }] },
      options: { indexAxis: q.kind === "rating" ? "x" : "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true } } },
    });
  });
})();
