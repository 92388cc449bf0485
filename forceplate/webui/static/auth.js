/* Form helpers for the sign-in, first-start and Settings pages (no inline scripts: the CSP forbids them). */
(function () {
  "use strict";
  /* "Show password" boxes: data-for names the password fields they show, separated by spaces. */
  document.querySelectorAll("input.show-password").forEach(function (box) {
    box.addEventListener("change", function () {
      box.dataset.for.split(" ").forEach(function (id) {
        var field = document.getElementById(id);
        if (field) { field.type = box.checked ? "text" : "password"; }
      });
    });
  });
  /* A form that takes a while (the tare): says so in its status line while the server works, and its button
     waits, so a second press cannot start a second one. The form is still sent as usual. */
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var status = document.getElementById(form.dataset.busy);
      if (status) { status.textContent = form.dataset.busyText || "Working..."; }
      form.querySelectorAll("button[type=submit]").forEach(function (button) {
        window.setTimeout(function () { button.disabled = true; }, 0);
      });
    });
  });
}());
