// History: the timeline chart per task, and picking two analyses to compare.
(function () {
  "use strict";
  const picks = Array.from(document.querySelectorAll(".compare-pick"));
  const button = document.getElementById("compare-button");
  picks.forEach((box) => box.addEventListener("change", () => {
    const chosen = picks.filter((p) => p.checked);
    if (chosen.length > 2) { box.checked = false; return; }
    button.disabled = chosen.length !== 2;
    if (chosen.length === 2) {
      document.getElementById("compare-a").value = chosen[0].value;
      document.getElementById("compare-b").value = chosen[1].value;
    }
  }));

  const el = document.getElementById("timeline-data");
  if (!el || !window.Chart) return;
  const data = JSON.parse(el.textContent);
  const palette = ["#c2577a", "#3b7dd8", "#2f9e44", "#f08c00", "#7048e8", "#0ca678", "#e03131", "#495057"];
  const sevValue = { low: 0.03, medium: 0.06, high: 0.09 };
  const sevColor = { low: "#2f9e44", medium: "#f08c00", high: "#e03131" };
  const labels = data.points.map((p) => new Date(p.t).toLocaleDateString());
  const datasets = data.classes.map((c, i) => ({
    label: c, data: data.points.map((p) => p.p[c]), borderColor: palette[i % palette.length],
    backgroundColor: palette[i % palette.length], tension: 0.25, pointRadius: 3,
  }));
  datasets.push({
    label: "severity", type: "scatter", showLine: false,
    data: data.points.map((p, i) => ({ x: labels[i], y: sevValue[p.severity] || null })),
    pointBackgroundColor: data.points.map((p) => sevColor[p.severity] || "#adb5bd"), pointRadius: 6,
  });
  new Chart(document.getElementById("timeline"), {
    type: "line", data: { labels, datasets },
    options: {
      maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
      scales: { y: { min: 0, max: 1, ticks: { callback: (v) => Math.round(v * 100) + "%" } } },
      plugins: { tooltip: { callbacks: {
        label: (ctx) => ctx.dataset.label === "severity"
          ? "severity: " + (data.points[ctx.dataIndex].severity || "n/a")
          : ctx.dataset.label + ": " + Math.round(ctx.parsed.y * 100) + "%" } } },
      onClick: (ev, items) => { if (items.length) window.location = "/analysis/" + data.points[items[0].index].id + "/"; },
    },
  });
})();
