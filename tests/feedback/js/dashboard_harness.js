// Runs static/feedback/dashboard.js under Node with a stub DOM and a stub Chart; prints the charts.
// usage: node dashboard_harness.js dashboard.js page.json
const fs = require("fs");
const [script, dataFile] = process.argv.slice(2);
const data = JSON.parse(fs.readFileSync(dataFile, "utf8"));
const canvases = data.canvases.map((c) => ({ id: c.id, className: c.className, dataset: c.dataset || {} }));
global.document = {
  getElementById: (id) => {
    if (id in data.json) return { textContent: data.json[id] };
    return canvases.find((c) => c.id === id) || null;
  },
  querySelectorAll: (sel) => canvases.filter((c) => sel === "." + c.className),
};
const charts = [];
global.Chart = function (canvas, config) { charts.push({ canvas: canvas.id || canvas.className, type: config.type || "mixed", labels: config.data.labels, datasets: config.data.datasets.map((d) => ({ label: d.label, data: d.data })) }); };
eval(fs.readFileSync(script, "utf8"));
console.log(JSON.stringify(charts));
