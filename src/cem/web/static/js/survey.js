// Progressive enhancement of the hosted survey page: the page works without this file.
// With it: answers are checked in the browser first (same messages as the server), the "other" text
// box shows only when that choice is picked, and pages are submitted with fetch and swapped in place.
// The server stays the judge: whatever this script lets through is checked again there.
(function () {
  "use strict";
  var MESSAGES = {
    required: "This question needs an answer.",
    email: "Enter an email address like name@example.com.",
    url: "Enter a web address starting with http:// or https://.",
    phone: "Enter a phone number (digits, spaces, + and dashes).",
    number: "Enter a number."
  };
  var PATTERNS = {
    email: /^[^@\s]+@[^@\s]+\.[^@\s]+$/,
    url: /^https?:\/\/[^\s\/$.?#][^\s]*$/i,
    phone: /^\+?[0-9 ()./-]{6,20}$/,
    number: /^-?[0-9]+([.,][0-9]+)?$/
  };

  function answered(block) {
    var type = block.dataset.type;
    if (type === "matrix") {
      var rows = block.querySelectorAll("tbody tr");
      for (var i = 0; i < rows.length; i++) {
        if (!rows[i].querySelector("input:checked")) return false;
      }
      return rows.length > 0;
    }
    if (type === "ranking") {
      var selects = block.querySelectorAll("select");
      for (var j = 0; j < selects.length; j++) if (!selects[j].value) return false;
      return true;
    }
    if (block.querySelector("input:checked")) return true;
    var fields = block.querySelectorAll("input[type=text], input[type=email], input[type=url], input[type=tel], input[type=date], input[type=number], textarea, select");
    for (var k = 0; k < fields.length; k++) {
      if (fields[k].name.indexOf("__other") === -1 && fields[k].value.trim() !== "") return true;
    }
    return false;
  }

  function problem(block) {
    var required = block.hasAttribute("data-required");
    if (!answered(block)) return required ? MESSAGES.required : null;
    var rule = block.dataset.validation;
    if (block.dataset.type === "text" && PATTERNS[rule]) {
      var field = block.querySelector("input, textarea");
      if (field && field.value.trim() && !PATTERNS[rule].test(field.value.trim())) return MESSAGES[rule];
    }
    if (block.dataset.type === "ranking") {
      var seen = {}, selects = block.querySelectorAll("select");
      for (var i = 0; i < selects.length; i++) {
        if (selects[i].value && seen[selects[i].value]) return "Rank every option, each once.";
        seen[selects[i].value] = true;
      }
    }
    var other = block.querySelector("[data-other]:checked, option[data-other]:checked");
    var box = block.querySelector("input[name$='__other']");
    if (other && box && !box.value.trim()) return "Tell us what you mean by other.";
    return null;
  }

  function show(block, message) {
    var slot = block.querySelector(".q-error");
    block.classList.toggle("has-error", !!message);
    if (slot) {
      slot.textContent = message || "";
      slot.hidden = !message;
    }
    var controls = block.querySelectorAll("fieldset, input, select, textarea");
    for (var i = 0; i < controls.length; i++) {
      if (message) controls[i].setAttribute("aria-invalid", "true");
      else controls[i].removeAttribute("aria-invalid");
    }
  }

  function validate(form) {
    var first = null;
    var blocks = form.querySelectorAll(".question");
    for (var i = 0; i < blocks.length; i++) {
      var message = problem(blocks[i]);
      show(blocks[i], message);
      if (message && !first) first = blocks[i];
    }
    if (first) {
      var target = first.querySelector("input, select, textarea, button");
      (target || first).focus();
    }
    return !first;
  }

  function syncOther(form) {
    var boxes = form.querySelectorAll("[data-other-for]");
    for (var i = 0; i < boxes.length; i++) {
      var block = boxes[i].closest(".question");
      var picked = block.querySelector("[data-other]:checked, option[data-other]:checked");
      var input = boxes[i].querySelector("input");
      boxes[i].hidden = !picked && !(input && input.value);
    }
  }

  // A slider's range control drives its number box (the answer, which also works without this script). Until it is
  // moved the range looks untouched, so an unanswered slider does not pretend to hold its middle value.
  function initSliders(form) {
    var sliders = form.querySelectorAll("[data-slider]");
    for (var i = 0; i < sliders.length; i++) {
      var range = sliders[i].querySelector("[data-slider-range]");
      var box = sliders[i].querySelector("[data-slider-value]");
      if (!range || !box) continue;
      range.hidden = false;
      range.classList.toggle("untouched", box.value === "");
      if (box.value !== "") range.value = box.value;
      range.addEventListener("input", function (r, b) {
        return function () { b.value = r.value; r.classList.remove("untouched"); };
      }(range, box));
      box.addEventListener("input", function (r, b) {
        return function () { if (b.value !== "") { r.value = b.value; r.classList.remove("untouched"); } };
      }(range, box));
    }
  }

  function swap(html, url) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("survey-main");
    var main = document.getElementById("survey-main");
    if (!fresh || !main) { window.location.assign(url); return; }
    main.replaceWith(fresh);
    document.title = doc.title;
    document.documentElement.lang = doc.documentElement.lang;
    document.documentElement.dir = doc.documentElement.dir;
    if (url) history.replaceState(null, "", url);
    init();
    var focus = fresh.querySelector("[data-focus]") || fresh.querySelector("h1");
    if (focus) { if (!focus.hasAttribute("tabindex")) focus.setAttribute("tabindex", "-1"); focus.focus(); }
    window.scrollTo(0, 0);
  }

  function load(url) {
    return fetch(url, { headers: { "X-Survey-Fetch": "1" }, credentials: "same-origin" }).then(function (res) {
      var away = res.headers.get("X-Survey-Redirect");
      if (away) { window.location.assign(away); return; }
      return res.text().then(function (html) { swap(html, url); });
    });
  }

  function submit(form, submitter) {
    var data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    var buttons = form.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
    // getAttribute: form.action would be the button named "action" (DOM named-property clobbering).
    fetch(form.getAttribute("action"), {
      method: "POST",
      body: new URLSearchParams(data),
      headers: { "X-Survey-Fetch": "1" },
      credentials: "same-origin"
    }).then(function (res) {
      var next = res.headers.get("X-Survey-Location");
      if (res.status === 204 && next) return load(next);
      return res.text().then(function (html) { swap(html, null); });
    }).catch(function () {
      // Network trouble: fall back to a plain post (the nonce makes a repeat harmless).
      form.submit();
    });
  }

  function init() {
    var form = document.querySelector("form.survey-form");
    if (!form || (form.getAttribute("method") || "").toLowerCase() !== "post" || form.dataset.enhanced) return;
    form.dataset.enhanced = "1";
    syncOther(form);
    initSliders(form);
    form.addEventListener("change", function (event) {
      syncOther(form);
      var block = event.target.closest(".question");
      if (block && block.classList.contains("has-error")) show(block, problem(block));
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var submitter = event.submitter || null;
      var back = submitter && submitter.value === "back";
      if (!back && !validate(form)) return;
      submit(form, submitter);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
