// 回音 Huiyin — the service worker: lets a cadre open the intake page and record visits where the
// village has no signal. It keeps two things, both in this origin's Cache Storage:
//   huiyin-assets   the style sheet, scripts and icons every page needs (anyone's, no data);
//   huiyin-user-<id> the pages one cadre records on and their register (their villages and
//                    categories): personal, deleted by the page script when that cadre logs out.
// Everything goes to the network first; the caches answer only when the network does not.
// What was recorded offline is not kept here but by the page script (IndexedDB).
"use strict";

const ASSETS = "huiyin-assets-v1";
const USER_PREFIX = "huiyin-user-";
// Relative to this script's URL (served at the root of the app).
const ASSET_PATHS = [
  "static/css/app.css",
  "static/vendor/htmx-2.0.11.min.js",
  "static/js/app.js",
  "static/js/offline.js",
  "static/favicon.svg",
  "static/manifest.webmanifest",
  "static/icons/icon-192.png",
];

function absolute(path) {
  return new URL(path, self.registration.scope).href;
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(ASSETS)
      .then((cache) => cache.addAll(ASSET_PATHS.map(absolute)))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((k) => k.startsWith("huiyin-assets-") && k !== ASSETS).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

// The page asks for its cadre's pages and register to be kept (after each login, when online).
self.addEventListener("message", (event) => {
  const msg = event.data || {};
  if (msg.type !== "keep" || !msg.user) return;
  const name = USER_PREFIX + msg.user;
  const urls = (msg.urls || []).map((u) => new URL(u, self.registration.scope).href)
    .filter((u) => new URL(u).origin === self.location.origin);
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((k) => k.startsWith(USER_PREFIX) && k !== name).map((k) => caches.delete(k))))
      .then(() => caches.open(name))
      .then((cache) => Promise.all(urls.map((url) =>
        fetch(url, { credentials: "same-origin", redirect: "follow" }).then((response) => {
          // A login page instead of the page asked for (the session ended) is not kept.
          if (response.ok && !response.redirected) return cache.put(url, response);
          return null;
        }).catch(() => null))))
      .then(() => {
        if (event.source) event.source.postMessage({ type: "kept", user: msg.user });
      })
  );
});

function fromCaches(request) {
  return caches.match(request, { ignoreSearch: true, ignoreVary: true }).then((hit) => hit || null);
}

function offlinePage() {
  const html = "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>" +
    "<title>没有网络 · 回音</title><h1>没有网络</h1>" +
    "<p>这个页面没有保存在手机上。登记走访的页面在没有网络时也能打开；请从那里继续。</p>" +
    "<p lang=en>No network, and this page is not kept on the phone. The visit registration page " +
    "works offline.</p>";
  return new Response(html, { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // posts go straight to the server, as without the worker
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const isPage = request.mode === "navigate";
  const isAsset = url.pathname.indexOf("/static/") !== -1;
  const isKept = !isPage && !isAsset && request.headers.get("Accept") === "application/json";
  if (!isPage && !isAsset && !isKept) return;
  event.respondWith(
    fetch(request).catch(() => fromCaches(request).then((hit) => {
      if (hit) return hit;
      if (isPage) return offlinePage();
      return Response.error();
    }))
  );
});
