// 回音 Huiyin — offline intake on the cadre's phone. Everything here is an addition: without
// JavaScript (or without a service worker) the pages post to the server as they always did.
//
// - Registers the service worker (static/sw.js, served at the root) and asks it to keep this
//   cadre's offline pages and register (the server lists them); deletes them at logout.
// - A form marked data-offline-form="<save values>" that is submitted with no network is kept in
//   IndexedDB with its fields, its photos (as Blobs) and a client token of its own; it is listed
//   on the page as 待发送 and counted in a badge in the top bar.
// - Kept drafts are sent when the network returns (the "online" event) or with 立即发送. The
//   server answers a resend of the same token with the record it already saved, so nothing is
//   registered twice. A refusal (the form comes back with its errors, or 4xx) stays on the phone
//   with the reason; 打开修改 puts it back into the form to be fixed and sent again.
// No inline handlers and no eval: the Content-Security-Policy forbids both.
(function () {
  "use strict";
  if (!window.indexedDB || !window.fetch || !window.Promise) return;

  var body = document.body;
  var user = body.getAttribute("data-offline-user") || "";
  var lookupUrl = body.getAttribute("data-offline-lookup") || "";
  var swUrl = body.getAttribute("data-offline-sw") || "";
  var USER_CACHE_PREFIX = "huiyin-user-";
  var KEPT_MARK = "huiyin-offline-kept";
  var PAGES_MARK = "huiyin-offline-pages";
  var KEEP_FOR_MS = 30 * 60 * 1000;
  var SENT_KEPT_DAYS = 7;
  var EN = (document.documentElement.lang || "").indexOf("en") === 0;
  var T = EN ? {
    pending: "Waiting to send", sending: "Sending…", sent: "Sent", refused: "Not accepted",
    listTitle: "Recorded on this phone", sendNow: "Send now", open: "Open and fix", remove: "Delete",
    clearSent: "Clear sent", keptOffline: "No network: kept on this phone, it will be sent when the network returns.",
    noNetwork: "No network yet: the drafts stay on this phone and are sent automatically.",
    needsNetwork: "This button needs the network. Use 保存 to keep the record on the phone.",
    loginAgain: "Your login has ended: log in again, then press Send now.",
    serverBusy: "The server could not take it just now; it will be tried again.",
    opened: "The draft is back in the form: fix what was refused and save again.",
    confirmRemove: "Delete this draft from the phone? It has not been sent.",
    photos: "photos", problem: "Problem", badge: "to send", receipt: "receipt", savedNoNumber: "saved"
  } : {
    pending: "待发送", sending: "正在发送…", sent: "已发送", refused: "未通过",
    listTitle: "保存在手机上的登记", sendNow: "立即发送", open: "打开修改", remove: "删除",
    clearSent: "清除已发送", keptOffline: "没有网络：已保存在手机上，有网络时会自动发送。",
    noNetwork: "现在没有网络：草稿保存在手机上，有网络时会自动发送。",
    needsNetwork: "这个按钮需要网络。请点“保存”，先把登记保存在手机上。",
    loginAgain: "登录已过期：请重新登录，再点“立即发送”。",
    serverBusy: "服务器暂时无法接收，稍后会再次发送。",
    opened: "草稿已放回表单：请按未通过的原因修改后再保存。",
    confirmRemove: "从手机上删除这条草稿？它还没有发送。",
    photos: "张照片", problem: "问题", badge: "待发送", receipt: "回执", savedNoNumber: "已保存"
  };

  // ------------------------------------------------------------ storage (IndexedDB)

  var dbPromise = null;
  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open("huiyin-offline", 1);
        req.onupgradeneeded = function () { req.result.createObjectStore("drafts", { keyPath: "token" }); };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }
  function tx(mode, fn) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction("drafts", mode);
        var out = fn(t.objectStore("drafts"));
        t.oncomplete = function () { resolve(out && out.result !== undefined ? out.result : undefined); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  function allDrafts() {
    return tx("readonly", function (s) { return s.getAll(); }).then(function (rows) {
      return (rows || []).filter(function (d) { return String(d.user) === String(user); })
        .sort(function (a, b) { return a.created - b.created; });
    });
  }
  function putDraft(d) { return tx("readwrite", function (s) { s.put(d); }); }
  function deleteDraft(token) { return tx("readwrite", function (s) { s.delete(token); }); }

  function newToken() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // ------------------------------------------------------------ the pages kept on the phone

  function clearUserCaches(except) {
    if (!window.caches) return Promise.resolve();
    if (!except) {
      try { sessionStorage.removeItem(KEPT_MARK); } catch (e) { /* private mode */ }
    }
    return caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) {
        return k.indexOf(USER_CACHE_PREFIX) === 0 && k !== except;
      }).map(function (k) { return caches.delete(k); }));
    });
  }

  function markReady() { body.setAttribute("data-offline-ready", ""); }

  function keepPages(registration) {
    if (!user || !lookupUrl) return;
    var mark = null;
    try { mark = JSON.parse(sessionStorage.getItem(KEPT_MARK) || "null"); } catch (e) { mark = null; }
    if (mark && String(mark.user) === String(user) && Date.now() - mark.at < KEEP_FOR_MS) { markReady(); return; }
    if (!navigator.onLine) return;
    fetchRegister().then(function (reg) {
      var worker = registration.active || navigator.serviceWorker.controller;
      if (!reg || !worker) return;
      try { sessionStorage.setItem(PAGES_MARK, JSON.stringify(reg.pages || [])); } catch (e) { /* private mode */ }
      navigator.serviceWorker.addEventListener("message", function onKept(ev) {
        if (ev.data && ev.data.type === "kept" && String(ev.data.user) === String(user)) {
          navigator.serviceWorker.removeEventListener("message", onKept);
          try { sessionStorage.setItem(KEPT_MARK, JSON.stringify({ user: user, at: Date.now() })); } catch (e) { /* private mode */ }
          markReady();
        }
      });
      worker.postMessage({ type: "keep", user: user, urls: [lookupUrl].concat(reg.pages || []) });
    });
  }

  function fetchRegister() {
    return fetch(lookupUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        var type = r.headers.get("Content-Type") || "";
        return r.ok && type.indexOf("application/json") === 0 ? r.json() : null;
      })
      .catch(function () { return null; });
  }

  // ------------------------------------------------------------ recording with no network

  function saveValues(form) {
    return (form.getAttribute("data-offline-form") || "save").split(/\s+/).filter(Boolean);
  }

  function fieldsOf(form, submitter) {
    var fields = [];
    new FormData(form).forEach(function (value, name) {
      if (value instanceof File) {
        if (value.name || value.size) fields.push([name, value]);
      } else {
        fields.push([name, value]);
      }
    });
    if (submitter && submitter.name) fields.push([submitter.name, submitter.value]);
    return fields;
  }

  function labelOf(form, fields) {
    var parts = [];
    var select = form.querySelector("select");
    if (select && select.selectedIndex >= 0 && select.value) parts.push(select.options[select.selectedIndex].text);
    var text = Array.prototype.find.call(form.querySelectorAll("input[type=text]"), function (i) { return i.value.trim(); });
    if (text) parts.push(text.value.trim());
    var titles = fields.filter(function (f) { return /title$/.test(f[0]) && typeof f[1] === "string" && f[1].trim(); })
      .map(function (f) { return T.problem + "：" + f[1].trim(); });
    var photos = fields.filter(function (f) { return f[1] instanceof File; }).length;
    return parts.concat(titles).join(" · ") + (photos ? " · " + photos + " " + T.photos : "");
  }

  function actionOf(form) {
    // Not form.action: the form's buttons are named "action" and would shadow it.
    return new URL(form.getAttribute("action") || location.href, location.href).href;
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.hasAttribute && form.hasAttribute("data-offline-logout")) { clearUserCaches(null); return; }
    if (!form.matches || !form.matches("form[data-offline-form]") || !user) return;
    var editing = form.getAttribute("data-offline-editing");
    if (navigator.onLine && !editing) return; // online: the ordinary post, as without JavaScript
    var submitter = ev.submitter || null;
    var values = saveValues(form);
    if (submitter && submitter.name && values.indexOf(submitter.value) === -1) {
      ev.preventDefault();
      note(T.needsNetwork, "warning");
      return;
    }
    ev.preventDefault();
    var fields = fieldsOf(form, submitter && submitter.name ? submitter : { name: "action", value: values[0] });
    var tokenName = form.getAttribute("data-offline-token") || "token";
    var token = editing || newToken();
    fields = fields.filter(function (f) { return f[0] !== tokenName; });
    fields.push([tokenName, token]);
    var draft = {
      token: token, user: user, url: actionOf(form), created: Date.now(), status: "pending",
      fields: fields, label: labelOf(form, fields), reasons: [], numbers: [], receipt: ""
    };
    // A reopened draft keeps what this page has no field for (a problem block the page lacks).
    var kept = editing ? allDrafts().then(function (drafts) {
      var before = drafts.filter(function (d) { return d.token === editing; })[0];
      (before ? before.fields : []).forEach(function (f) {
        if (!form.elements[f[0]] && f[0] !== "action") draft.fields.push(f);
      });
    }) : Promise.resolve();
    kept.then(function () { return putDraft(draft); }).then(function () {
      form.reset();
      form.removeAttribute("data-offline-editing");
      var tokenField = form.elements[tokenName];
      if (tokenField) tokenField.value = newToken();
      note(navigator.onLine ? "" : T.keptOffline, "success");
      return refresh();
    }).then(function () {
      if (navigator.onLine) sendAll();
      var list = document.getElementById("offline-drafts");
      if (list) list.scrollIntoView({ block: "start" });
    });
  });

  // ------------------------------------------------------------ sending

  var sending = false;

  function reasonsIn(doc) {
    var seen = [];
    doc.querySelectorAll(".flash-error p, .flash-warning p, .error-summary li:not(:has(a)), ul.errors li, .error-page h1, .error-page p").forEach(function (el) {
      var t = el.textContent.trim();
      if (t && seen.indexOf(t) === -1) seen.push(t);
    });
    return seen;
  }

  function sendOne(d, csrf) {
    var fd = new FormData();
    d.fields.forEach(function (f) {
      if (f[0] === "csrf_token") fd.append(f[0], csrf);
      else if (f[1] instanceof Blob) fd.append(f[0], f[1], f[1].name || "photo");
      else fd.append(f[0], f[1]);
    });
    d.status = "sending";
    return putDraft(d).then(refresh).then(function () {
      return fetch(d.url, { method: "POST", body: fd, credentials: "same-origin", headers: { "X-CSRFToken": csrf } });
    }).then(function (r) {
      return r.text().then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        if (r.status >= 500) {
          d.status = "pending"; d.reasons = [T.serverBusy];
        } else if (doc.querySelector("input[type=password]")) {
          d.status = "pending"; d.reasons = [T.loginAgain];
        } else if (r.status >= 400 || doc.querySelector("form[data-offline-form]")) {
          d.status = "refused"; d.reasons = reasonsIn(doc);
          if (!d.reasons.length) d.reasons = [String(r.status)];
        } else {
          d.status = "sent"; d.reasons = []; d.sent = Date.now(); d.receipt = r.url;
          d.numbers = Array.prototype.map.call(doc.querySelectorAll("[data-record-number]"),
            function (el) { return el.textContent.trim(); });
        }
        return putDraft(d);
      });
    }, function () {
      d.status = "pending"; d.reasons = [];
      return putDraft(d);
    });
  }

  function sendAll() {
    if (sending || !user) return Promise.resolve();
    if (!navigator.onLine) { note(T.noNetwork, "warning"); return Promise.resolve(); }
    sending = true;
    return allDrafts().then(function (drafts) {
      var waiting = drafts.filter(function (d) { return d.status === "pending" || d.status === "sending"; });
      if (!waiting.length) return null;
      return fetchRegister().then(function (reg) {
        if (!reg || !reg.csrf_token) { note(T.loginAgain, "warning"); return null; }
        return waiting.reduce(function (p, d) {
          return p.then(function () { return sendOne(d, reg.csrf_token); });
        }, Promise.resolve());
      });
    }).then(function () { sending = false; note("", ""); return refresh(); },
      function () { sending = false; return refresh(); });
  }

  // ------------------------------------------------------------ the list and the badge

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  var noteShown = { text: "", kind: "" };
  function note(text, kind) {
    noteShown = { text: text, kind: kind };
    var n = document.getElementById("offline-note");
    if (!n) return;
    n.textContent = text;
    n.className = text ? "flash flash-" + kind : "";
    n.hidden = !text;
  }

  function listHost() {
    var host = document.getElementById("offline-drafts");
    if (host) return host;
    var form = document.querySelector("form[data-offline-form]");
    if (!form) return null;
    host = el("section", { id: "offline-drafts", class: "card offline-drafts", "aria-live": "polite", hidden: "" });
    form.parentNode.insertBefore(host, form);
    return host;
  }

  function badge(count) {
    var bar = document.querySelector(".topbar");
    if (!bar) return;
    var b = document.getElementById("offline-badge");
    if (!b) {
      b = el("a", { id: "offline-badge", class: "offline-badge", href: "#offline-drafts" });
      var who = bar.querySelector(".whoami");
      bar.insertBefore(b, who);
    }
    b.hidden = !count;
    b.textContent = T.badge + " " + count;
    var form = document.querySelector("form[data-offline-form]");
    if (!form) {
      try {
        var pages = JSON.parse(sessionStorage.getItem(PAGES_MARK) || "[]");
        if (pages[0]) b.setAttribute("href", pages[0] + "#offline-drafts");
      } catch (e) { /* private mode */ }
    }
  }

  function draftItem(d) {
    var li = el("li", { class: "offline-draft offline-" + d.status, "data-token": d.token });
    li.appendChild(el("p", { class: "offline-label" }, d.label || "—"));
    var when = new Date(d.created);
    var status = el("p", { class: "offline-status" });
    status.appendChild(el("strong", {}, T[d.status] || d.status));
    status.appendChild(document.createTextNode(" · " + when.toLocaleString(EN ? "en" : "zh-CN")));
    li.appendChild(status);
    if (d.status === "sent") {
      var nums = el("p", { class: "offline-numbers" });
      (d.numbers.length ? d.numbers : [T.savedNoNumber]).forEach(function (n) {
        nums.appendChild(el("span", { class: "offline-number" }, n));
      });
      if (d.receipt) nums.appendChild(el("a", { href: d.receipt }, T.receipt));
      li.appendChild(nums);
    }
    if (d.reasons && d.reasons.length) {
      var ul = el("ul", { class: "offline-reasons" });
      d.reasons.forEach(function (r) { ul.appendChild(el("li", {}, r)); });
      li.appendChild(ul);
    }
    var actions = el("div", { class: "form-actions" });
    if (d.status === "refused" && document.querySelector("form[data-offline-form]")) {
      actions.appendChild(el("button", { type: "button", "data-offline-open": d.token }, T.open));
    }
    if (d.status === "refused" || d.status === "pending") {
      actions.appendChild(el("button", { type: "button", class: "danger", "data-offline-remove": d.token }, T.remove));
    }
    if (actions.childNodes.length) li.appendChild(actions);
    return li;
  }

  function refresh() {
    return allDrafts().then(function (drafts) {
      var old = Date.now() - SENT_KEPT_DAYS * 86400000;
      drafts.filter(function (d) { return d.status === "sent" && d.sent < old; })
        .forEach(function (d) { deleteDraft(d.token); });
      var open = drafts.filter(function (d) { return d.status !== "sent"; });
      badge(open.length);
      var host = listHost();
      if (!host) return;
      host.hidden = !drafts.length;
      host.textContent = "";
      var head = el("div", { class: "page-head" });
      head.appendChild(el("h2", {}, T.listTitle + "（" + T.pending + " " + open.length + "）"));
      var buttons = el("div", { class: "form-actions" });
      if (open.length) buttons.appendChild(el("button", { type: "button", class: "primary", "data-offline-send": "" }, T.sendNow));
      if (drafts.length > open.length) buttons.appendChild(el("button", { type: "button", "data-offline-clear": "" }, T.clearSent));
      head.appendChild(buttons);
      host.appendChild(head);
      host.appendChild(el("p", { id: "offline-note", role: "status", hidden: "" }));
      note(noteShown.text, noteShown.kind);
      var ol = el("ol", { class: "offline-list" });
      drafts.forEach(function (d) { ol.appendChild(draftItem(d)); });
      host.appendChild(ol);
    });
  }

  function openDraft(token) {
    var form = document.querySelector("form[data-offline-form]");
    if (!form) return;
    allDrafts().then(function (drafts) {
      var d = drafts.filter(function (x) { return x.token === token; })[0];
      if (!d) return;
      form.reset();
      var files = {};
      d.fields.forEach(function (f) {
        var name = f[0], value = f[1];
        if (name === "csrf_token" || name === "action") return;
        var field = form.elements[name];
        if (!field) return;
        if (value instanceof Blob) {
          (files[name] = files[name] || []).push(value);
        } else if (field instanceof RadioNodeList || field.type !== "file") {
          field.value = value;
        }
      });
      Object.keys(files).forEach(function (name) {
        var input = form.elements[name];
        if (!input || !window.DataTransfer) return;
        var dt = new DataTransfer();
        files[name].forEach(function (b) { dt.items.add(b instanceof File ? b : new File([b], "photo", { type: b.type })); });
        input.files = dt.files;
      });
      var tokenName = form.getAttribute("data-offline-token") || "token";
      if (form.elements[tokenName]) form.elements[tokenName].value = d.token;
      form.setAttribute("data-offline-editing", d.token);
      note(T.opened, "info");
      form.scrollIntoView({ block: "start" });
    });
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target.closest && ev.target.closest("[data-offline-send], [data-offline-open], [data-offline-remove], [data-offline-clear]");
    if (!t) return;
    ev.preventDefault();
    if (t.hasAttribute("data-offline-send")) sendAll();
    else if (t.hasAttribute("data-offline-open")) openDraft(t.getAttribute("data-offline-open"));
    else if (t.hasAttribute("data-offline-remove")) {
      if (window.confirm(T.confirmRemove)) deleteDraft(t.getAttribute("data-offline-remove")).then(refresh);
    } else if (t.hasAttribute("data-offline-clear")) {
      allDrafts().then(function (drafts) {
        return Promise.all(drafts.filter(function (d) { return d.status === "sent"; })
          .map(function (d) { return deleteDraft(d.token); }));
      }).then(refresh);
    }
  });

  window.addEventListener("online", function () { sendAll(); });

  // ------------------------------------------------------------ start

  // A page kept on an earlier day still carries that day as the visit date: offline, today's
  // date (the phone's) replaces a default that is out of date; a date the cadre typed is kept.
  if (!navigator.onLine) {
    var now = new Date();
    var today = [now.getFullYear(), ("0" + (now.getMonth() + 1)).slice(-2), ("0" + now.getDate()).slice(-2)].join("-");
    document.querySelectorAll("form[data-offline-form] input[type=date]").forEach(function (input) {
      if (input.value && input.value === input.defaultValue && input.value < today) input.value = today;
    });
  }

  if (!user) clearUserCaches(null); // logged out (or never in): the phone keeps no one's pages
  else clearUserCaches(USER_CACHE_PREFIX + user);
  if (swUrl && "serviceWorker" in navigator) {
    navigator.serviceWorker.register(swUrl).then(function () {
      return navigator.serviceWorker.ready;
    }).then(keepPages).catch(function () { /* no worker: the pages work online as before */ });
  }
  refresh().then(function () {
    if (user && navigator.onLine) {
      allDrafts().then(function (drafts) {
        if (drafts.some(function (d) { return d.status === "pending" || d.status === "sending"; })) sendAll();
      });
    }
  });
})();
