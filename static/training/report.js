// Dataset report page: images-per-class chart, and a poll of the version's API while the worker
// is still extracting or validating (the page reloads once the status changes).
(function () {
  "use strict";
  const countsEl = document.getElementById("class-counts");
  const canvas = document.getElementById("class-chart");
  if (countsEl && canvas && window.Chart) {
    const counts = JSON.parse(countsEl.textContent || "{}");
    const labels = Object.keys(counts).sort();
    new Chart(canvas, {
      type: "bar",
      data: { labels, datasets: [{ label: "images", data: labels.map((l) => counts[l]), backgroundColor: "#c2577a" }] },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, animation: false },
    });
  }
  const notice = document.getElementById("processing-notice");
  const statusEl = document.getElementById("version-status");
  if (notice && statusEl) {
    const initial = statusEl.dataset.status;
    const poll = () => fetch(notice.dataset.api, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => r.json())
      .then((v) => { if (v.status !== initial) location.reload(); else setTimeout(poll, 2000); })
      .catch(() => setTimeout(poll, 5000));
    setTimeout(poll, 1500);
  }
})();
