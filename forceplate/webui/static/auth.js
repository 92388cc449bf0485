/* "Show password" boxes on the sign-in and first-start pages (no inline scripts: the CSP forbids them). */
(function () {
  "use strict";
  document.querySelectorAll("input.show-password").forEach(function (box) {
    box.addEventListener("change", function () {
      box.dataset.for.split(" ").forEach(function (id) {
        var field = document.getElementById(id);
        if (field) { field.type = box.checked ? "text" : "password"; }
      });
    });
  });
}());
