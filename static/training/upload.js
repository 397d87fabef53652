// Dataset upload with a progress bar: the form is posted by XHR so a 500 MB archive shows how
// far it got; the server's answer (a redirect to the report, or the form with errors) replaces
// the page. Without JavaScript the form posts normally.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  form.addEventListener("submit", (e) => {
    const file = form.querySelector('input[type="file"][name="archive"]');
    if (!file || !file.files.length) return;
    e.preventDefault();
    const box = document.getElementById("upload-progress");
    const bar = box && box.querySelector(".progress-bar");
    box && box.classList.remove("d-none");
    form.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || location.href);
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable && bar) {
        const pct = Math.round((ev.loaded / ev.total) * 100);
        bar.style.width = pct + "%"; bar.textContent = pct + "%";
      }
    };
    xhr.onload = () => {
      if (xhr.responseURL && xhr.responseURL !== (form.action || location.href)) {
        location.assign(xhr.responseURL);
      } else {
        document.open(); document.write(xhr.responseText); document.close();
      }
    };
    xhr.onerror = () => { form.submit(); };
    xhr.send(new FormData(form));
  });
})();
