// Result page: Grad-CAM toggle; request the heatmap and show it when the worker pushes it.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("analysis-data").textContent);
  const toggle = document.getElementById("gradcam-toggle");
  const row = document.getElementById("gradcam-toggle-row");
  const form = document.getElementById("gradcam-form");
  const box = document.getElementById("photo-box");

  function overlay() { return document.getElementById("gradcam"); }
  function showOverlay(url) {
    let img = overlay();
    if (!img) {
      img = document.createElement("img");
      img.id = "gradcam"; img.className = "thumb-lg position-absolute top-0 start-0";
      img.alt = "Heatmap: where the model looked"; img.src = url;
      box.appendChild(img);
    }
    row.classList.remove("d-none");
    if (form) form.classList.add("d-none");
    toggle.checked = true; img.classList.remove("d-none");
  }
  toggle.addEventListener("change", () => { const img = overlay(); if (img) img.classList.toggle("d-none", !toggle.checked); });

  let polling = null;
  function poll() {
    fetch("/api/analyses/" + data.id, { credentials: "same-origin" }).then((r) => r.json()).then((a) => {
      if (a.gradcam_status === "ready" && a.gradcam_url) { clearInterval(polling); showOverlay(a.gradcam_url); }
      if (a.gradcam_status === "failed") { clearInterval(polling); setButton("Heatmap failed: try again", false); }
    });
  }
  function setButton(text, disabled) {
    const b = document.getElementById("gradcam-button"); if (!b) return;
    b.textContent = text; b.disabled = disabled;
  }
  if (form) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      setButton("Computing heatmap…", true);
      fetch(form.action, { method: "POST", credentials: "same-origin",
        headers: { "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value, "Accept": "application/json" } })
        .then((r) => r.json()).then((a) => {
          if (a.gradcam_status === "ready" && a.gradcam_url) showOverlay(a.gradcam_url);
          else if (!polling) polling = setInterval(poll, 3000);  // fallback when no push arrives
        }).catch(() => setButton("Heatmap failed: try again", false));
    });
    if (data.gradcam_status === "pending") polling = setInterval(poll, 3000);
  }
  if (window.SkinLive) {
    SkinLive.on("gradcam", (msg) => {
      if (msg.analysis !== data.id) return;
      if (msg.status === "ready") { clearInterval(polling); showOverlay("/analysis/" + data.id + "/photo/gradcam/?t=" + Date.now()); }
      else setButton("Heatmap failed: try again", false);
    });
  }
})();
