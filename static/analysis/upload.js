// Upload page: drag and drop, preview, and submission through the API so quality warnings
// can be overridden without choosing the file again. Without JS the form posts normally.
(function () {
  "use strict";
  const form = document.getElementById("analyse-form");
  if (!form) return;
  const input = document.getElementById("image-input");
  const drop = document.getElementById("dropzone");
  const preview = document.getElementById("preview");
  const errorBox = document.getElementById("js-error");
  const warnBox = document.getElementById("quality-warnings");
  const warnList = document.getElementById("quality-list");
  const acceptRow = document.getElementById("accept-row");
  const accept = document.getElementById("accept-warnings");
  const button = document.getElementById("analyse-button");
  const hint = document.getElementById("photo-hint");

  function showPreview(file) {
    if (!file) return;
    preview.src = URL.createObjectURL(file);
    preview.classList.remove("d-none");
    document.getElementById("drop-text").textContent = file.name;
  }
  input.addEventListener("change", () => { showPreview(input.files[0]); resetWarnings(); });
  ["dragenter", "dragover"].forEach((e) => drop.addEventListener(e, (ev) => { ev.preventDefault(); drop.classList.add("drag"); }));
  ["dragleave", "drop"].forEach((e) => drop.addEventListener(e, (ev) => { ev.preventDefault(); drop.classList.remove("drag"); }));
  drop.addEventListener("drop", (ev) => {
    if (ev.dataTransfer.files.length) { input.files = ev.dataTransfer.files; showPreview(input.files[0]); resetWarnings(); }
  });
  form.querySelectorAll("input[name=task]").forEach((r) => r.addEventListener("change", () => {
    if (r.checked && r.dataset.hint) hint.textContent = r.dataset.hint;
  }));
  function resetWarnings() {
    warnBox.classList.add("d-none"); acceptRow.classList.add("d-none"); accept.checked = false;
    errorBox.classList.add("d-none");
  }
  form.addEventListener("submit", async (ev) => {
    if (!window.fetch || !window.FormData) return;  // plain form post
    ev.preventDefault();
    errorBox.classList.add("d-none");
    button.disabled = true; button.textContent = "Analysing…";
    try {
      const data = new FormData(form);
      data.set("accept_warnings", accept.checked ? "true" : "false");
      const response = await fetch("/api/analyze", {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value, "Accept": "application/json" },
      });
      const body = await response.json().catch(() => ({}));
      if (response.status === 201) { window.location = "/analysis/" + body.id + "/"; return; }
      if (response.status === 422 && body.warnings) {
        warnList.innerHTML = "";
        body.warnings.forEach((w) => { const li = document.createElement("li"); li.textContent = w.message; warnList.appendChild(li); });
        warnBox.classList.remove("d-none"); acceptRow.classList.remove("d-none");
      } else {
        let msg = body.detail || (body.task && body.task.join(" ")) || "Something went wrong; please try again.";
        if (response.status === 429) msg = "You have analysed many photos in a short time; wait " + (response.headers.get("Retry-After") || "a few") + " seconds.";
        errorBox.textContent = msg; errorBox.classList.remove("d-none");
      }
    } catch (e) {
      errorBox.textContent = "Could not reach the server. Check your connection and try again.";
      errorBox.classList.remove("d-none");
    } finally {
      button.disabled = false; button.textContent = "Analyse";
    }
  });
})();
