// Keeps the board page itself (HTML, CSS, modules) for when the server is
// unreachable, so that a reload while offline still opens the board and the
// drawing waiting in IndexedDB. The network always comes first: a page that
// can reach the server runs the server's current code.

const CACHE = "scuttleboard-app-v1";
const APP = ["/", "/app/app.js", "/app/session.js", "/app/wire.js", "/app/model.js", "/app/render.js", "/app/board.css"];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(APP);
    await self.skipWaiting();
  })());
});
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const isApp = url.origin === location.origin && (url.pathname === "/" || url.pathname.startsWith("/app/"));
  if (event.request.method !== "GET" || !isApp) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(event.request);
      if (response.ok) await cache.put(url.pathname, response.clone());
      return response;
    } catch (error) {
      const cached = await cache.match(url.pathname);
      if (cached) return cached;
      throw error;
    }
  })());
});
