// The alert rule editor, when JavaScript runs: each row offers only the operators its field takes and shows the
// "question id / attribute" box only for fields that need one. Without it the form works the same; the server
// says in words when an operator does not fit.
(function () {
  "use strict";
  function fit(row) {
    var field = row.querySelector(".cond-field");
    var op = row.querySelector(".cond-op");
    var key = row.querySelector(".cond-key");
    if (!field || !op) return;
    var chosen = field.options[field.selectedIndex];
    var allowed = (chosen.getAttribute("data-ops") || "").split(" ");
    var first = null;
    Array.prototype.forEach.call(op.options, function (o) {
      var ok = allowed.indexOf(o.value) >= 0;
      o.disabled = !ok;
      o.hidden = !ok;
      if (ok && first === null) first = o;
    });
    if (op.selectedOptions.length && op.selectedOptions[0].disabled && first) first.selected = true;
    if (key) key.classList.toggle("hidden", !chosen.hasAttribute("data-key"));
  }
  document.addEventListener("change", function (e) {
    if (e.target.classList && e.target.classList.contains("cond-field")) fit(e.target.closest(".cond-row"));
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".cond-row").forEach(fit);
  });
})();
