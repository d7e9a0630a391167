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
    // Submitting the language form when the select changes (the button stays for no-JS users).
    var lang = document.getElementById("lang");
    if (lang) lang.addEventListener("change", function () { lang.form.submit(); });
    // Forms marked data-confirm ask first (destructive actions).
    document.body.addEventListener("submit", function (ev) {
      var msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
      if (msg && !window.confirm(msg)) ev.preventDefault();
    }, true);
  });
  window.addEventListener("resize", syncMenu);
})();
