// Compare page: the runs' validation curves overlaid (loss, balanced accuracy, macro F1).
(function () {
  "use strict";
  const el = document.getElementById("compare-curves");
  if (!el || !window.Chart) return;
  const runs = JSON.parse(el.textContent);
  const palette = ["#c2577a", "#2b7bb9", "#3a9d5d", "#e09b2d", "#7d4fb3", "#555", "#d9534f", "#17a2b8"];
  const maxEpoch = Math.max(1, ...runs.flatMap((r) => r.epochs.map((e) => e.epoch)));
  const labels = Array.from({ length: maxEpoch }, (_, i) => i + 1);
  const chart = (id, key) => {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    new Chart(canvas, {
      type: "line",
      data: {
        labels,
        datasets: runs.map((r, i) => ({
          label: r.name,
          borderColor: palette[i % palette.length],
          backgroundColor: palette[i % palette.length],
          data: labels.map((n) => { const e = r.epochs.find((x) => x.epoch === n); return e ? e[key] : null; }),
          spanGaps: true,
        })),
      },
      options: { animation: false, scales: { x: { title: { display: true, text: "epoch" } } } },
    });
  };
  chart("cmp-loss", "val_loss");
  chart("cmp-bacc", "balanced_accuracy");
  chart("cmp-f1", "macro_f1");
})();
