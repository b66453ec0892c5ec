/*
 * cem website widget: shows one survey as a popover on any site.
 *
 *   <script src="https://cem.example/static/js/widget.js" data-survey="post-nps" async></script>
 *   <script>window.cem=window.cem||function(){(cem.q=cem.q||[]).push(arguments)};
 *           cem("identify", "ext-123");  // optional: the signed-in customer's id in your system
 *           cem("track", "checkout_done"); // page events a survey may wait for
 *   </script>
 *
 * Targeting (set per survey in cem): page URL pattern ("*" = any text), delay, page event, display
 * percentage (sticky per browser). The server applies the contact-frequency rules to identified
 * customers and returns a personal link; the survey itself is the hosted page in an iframe, so every
 * question type, logic and language work as on /s/<slug>.
 */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-survey][src*='widget.js']");
  if (!script || !script.getAttribute("data-survey")) return;
  var base = new URL(script.src, location.href).origin;
  var slug = script.getAttribute("data-survey");
  var key = "cem:" + slug + ":";
  var state = { customer: null, events: {}, config: null, scheduled: false, shown: false };

  function store(name, value) {
    try {
      if (value === undefined) return window.localStorage.getItem(key + name);
      window.localStorage.setItem(key + name, value);
    } catch (e) { /* storage disabled: the server-side rules still apply */ }
    return null;
  }

  function patternMatches(pattern, url) {
    var rx = "^" + String(pattern || "*").split("*").map(function (part) {
      return part.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
    }).join(".*") + "$";
    return new RegExp(rx).test(url);
  }

  function sampledIn(percent) {
    var decided = store("sample");
    if (decided === "in" || decided === "out") return decided === "in";
    var inside = Math.random() * 100 < Number(percent);
    store("sample", inside ? "in" : "out");
    return inside;
  }

  function close(box) {
    if (box && box.parentNode) box.parentNode.removeChild(box);
  }

  function popover(url) {
    var box = document.createElement("div");
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", "Survey");
    box.setAttribute("data-cem-widget", slug);
    box.style.cssText = "position:fixed;right:16px;bottom:16px;z-index:2147483000;width:min(380px,calc(100vw - 32px));" +
      "background:#fff;border:1px solid #d0d7de;border-radius:10px;box-shadow:0 8px 28px rgba(0,0,0,.18);overflow:hidden";
    var button = document.createElement("button");
    button.type = "button";
    button.setAttribute("aria-label", "Close the survey");
    button.textContent = "\u00d7";
    button.style.cssText = "position:absolute;top:4px;right:6px;border:0;background:transparent;font-size:22px;cursor:pointer;line-height:1";
    button.addEventListener("click", function () { close(box); });
    var frame = document.createElement("iframe");
    frame.src = url;
    frame.title = "Survey";
    frame.style.cssText = "display:block;width:100%;height:460px;border:0";
    box.appendChild(frame);
    box.appendChild(button);
    document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") close(box); });
    document.body.appendChild(box);
  }

  function show() {
    if (state.shown || store("seen") === "1") return;
    state.shown = true;
    var body = JSON.stringify({ url: location.href, customer: state.customer });
    // text/plain keeps this a "simple" CORS request (no preflight); the server reads the JSON anyway.
    fetch(base + "/api/v1/widget/" + encodeURIComponent(slug) + "/display", {
      method: "POST", mode: "cors", credentials: "omit", headers: { "Content-Type": "text/plain" }, body: body
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (answer) {
      if (!answer || !answer.show) return;
      store("seen", "1");
      popover(answer.url);
    }).catch(function () { state.shown = false; });
  }

  function schedule() {
    var cfg = state.config;
    if (!cfg || state.scheduled || !cfg.open) return;
    if (!patternMatches(cfg.url_pattern, location.href)) return;
    if (cfg.event && !state.events[cfg.event]) return;
    if (!sampledIn(cfg.display_percent)) return;
    state.scheduled = true;
    window.setTimeout(show, Math.max(0, Number(cfg.delay_seconds) || 0) * 1000);
  }

  function command(name, value) {
    if (name === "identify") state.customer = value === null || value === undefined ? null : String(value);
    else if (name === "track") { state.events[String(value)] = true; schedule(); }
  }

  var queued = (window.cem && window.cem.q) || [];
  window.cem = function () { command(arguments[0], arguments[1]); };
  for (var i = 0; i < queued.length; i++) command(queued[i][0], queued[i][1]);

  fetch(base + "/api/v1/widget/" + encodeURIComponent(slug), { mode: "cors", credentials: "omit" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (cfg) { state.config = cfg; schedule(); })
    .catch(function () { /* the site keeps working without its survey */ });
})();
