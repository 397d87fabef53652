// The run form's steps 2 (model and stages) and 3 (options): one form, shown a step at a time.
// Without JavaScript both steps are visible and the form works the same.
(function () {
  "use strict";
  const form = document.getElementById("run-form");
  if (!form) return;
  const sections = form.querySelectorAll(".run-step");
  const crumbs = document.querySelectorAll("#run-steps [data-step]");
  const show = (step) => {
    sections.forEach((s) => s.classList.toggle("d-none", s.dataset.step !== step));
    crumbs.forEach((c) => c.classList.toggle("active", c.dataset.step === step));
  };
  form.querySelectorAll(".step-next").forEach((b) => b.addEventListener("click", () => show(b.dataset.next)));
  form.querySelectorAll(".step-prev").forEach((b) => b.addEventListener("click", () => show(b.dataset.prev)));
  // Open the step holding the first error, if any.
  const error = form.querySelector(".invalid-feedback");
  const errorStep = error && error.closest(".run-step");
  show(errorStep ? errorStep.dataset.step : "model");
})();
