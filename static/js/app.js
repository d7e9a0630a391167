// 回音 Huiyin — the little JavaScript the pages need. Everything works without it.
// No inline handlers and no eval: the Content-Security-Policy forbids both.
(function () {
  "use strict";
  // On desktop the menu is always open; the <details> element is the phone menu.
  // Menu groups: on a desk one dropdown at a time (Escape or a click elsewhere closes it); on a
  // phone every group is open inside the menu. Without JS each group still opens on its own.
  function syncMenu() {
    var menu = document.querySelector("details.menu");
    if (!menu) return;
    var desk = window.matchMedia("(min-width: 760px)").matches;
    if (desk) menu.setAttribute("open", "");
    menu.querySelectorAll("details[data-menu-group]").forEach(function (g) {
      if (desk) g.removeAttribute("open"); else g.setAttribute("open", "");
    });
  }
  function closeGroups(except) {
    if (!window.matchMedia("(min-width: 760px)").matches) return;
    document.querySelectorAll("details[data-menu-group][open]").forEach(function (g) {
      if (g !== except) g.removeAttribute("open");
    });
  }
  document.addEventListener("toggle", function (ev) {
    var g = ev.target;
    if (g.matches && g.matches("details[data-menu-group]") && g.open) closeGroups(g);
  }, true);
  document.addEventListener("click", function (ev) {
    if (!(ev.target.closest && ev.target.closest("details[data-menu-group]"))) closeGroups(null);
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.key !== "Escape") return;
    var g = ev.target.closest && ev.target.closest("details[data-menu-group][open]");
    if (g) { g.removeAttribute("open"); g.querySelector("summary").focus(); }
  });
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
  // A link of the error summary puts the focus in its field (a group of choices: its first one;
  // a closed disclosure is opened first).
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest && ev.target.closest("[data-error-summary] a[href^='#']");
    if (!link) return;
    var target = document.getElementById(decodeURIComponent(link.getAttribute("href").slice(1)));
    if (!target) return;
    var box = target.closest("details");
    if (box && !box.open) box.open = true;
    var field = target.matches("input, select, textarea") ? target : target.querySelector("input, select, textarea");
    if (!field) return;
    ev.preventDefault();
    field.focus();
    field.scrollIntoView({block: "center"});
  });
  function focusSummary(root) {
    var summary = root.querySelector && root.querySelector("[data-error-summary]");
    if (summary) summary.focus();
  }
  window.addEventListener("resize", syncMenu);
})();
