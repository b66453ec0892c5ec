/* Small progressive enhancements; every page still works without JavaScript. */
(function () {
  "use strict";
  // Forms with data-confirm ask before destructive actions (revoking a token cannot be undone).
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
  // Selects with data-autosubmit submit their form when changed (a filter without a button).
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.hasAttribute && field.hasAttribute("data-autosubmit") && field.form) {
      field.form.submit();
    }
  });
  // Buttons with data-copy copy the text of the element whose id they name (the one-time token secret).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button || !navigator.clipboard) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (source) {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () { button.textContent = "Copied"; });
    }
  });
})();
