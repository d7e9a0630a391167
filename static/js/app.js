// 回音 Huiyin — the little JavaScript the pages need. Everything works without it.
// No inline handlers and no eval: the Content-Security-Policy forbids both.
(function () {
  "use strict";
  // On desktop the menu is always open; the <details> element is the phone menu.
  function syncMenu() {
    var menu = document.querySelector("details.menu");
    if (!menu) return;
    if (window.matchMedia("(min-width: 760px)").matches) menu.setAttribute("open", "");
  }
  document.addEventListener("DOMContentLoaded", function () {
    syncMenu();
    // Forms marked data-confirm ask first (destructive actions).
    document.body.addEventListener("submit", function (ev) {
      var msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
      if (msg && !window.confirm(msg)) ev.preventDefault();
    }, true);
    // A 422 fragment carries validation messages (CONTRIBUTING), a 409 one the "changed meanwhile"
    // message with the user's input kept: swap them in like a 200.
    document.body.addEventListener("htmx:beforeSwap", function (ev) {
      var status = ev.detail.xhr && ev.detail.xhr.status;
      if (status === 422 || status === 409) { ev.detail.shouldSwap = true; ev.detail.isError = false; }
    });
    // intake: remove a problem block in place (without JS the button re-renders the form without it);
    // Enter in a text field does not send the whole visit form; print buttons show only with JS.
    document.body.addEventListener("click", function (ev) {
      var btn = ev.target.closest && ev.target.closest("[data-remove-block]");
      var block = btn && btn.closest(".problem-block");
      if (block) { ev.preventDefault(); block.remove(); }
      var print = ev.target.closest && ev.target.closest("[data-print]");
      if (print) { ev.preventDefault(); window.print(); }
    });
    document.body.addEventListener("keydown", function (ev) {
      var t = ev.target;
      if (ev.key === "Enter" && t.tagName === "INPUT" && t.type !== "submit" && t.closest("form[data-no-enter-submit]")) ev.preventDefault();
    });
    document.querySelectorAll("[data-print]").forEach(function (el) { el.hidden = false; });
    // A form sent back with errors: the summary at the top takes the focus (screen readers read
    // it; each message links to its field).
    focusSummary(document);
    document.body.addEventListener("htmx:afterSwap", function (ev) { focusSummary(ev.detail.target || document); });
  });
  function focusSummary(root) {
    var summary = root.querySelector && root.querySelector("[data-error-summary]");
    if (summary) summary.focus();
  }
  window.addEventListener("resize", syncMenu);
})();
