// First-party analytics, loaded only for adults who opted in: one page view posted to our own server.
// Only the page's path is sent; the server keeps the page's URL pattern and the day, nothing about the visitor.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) {
    return;
  }
  var body = new URLSearchParams();
  body.set("path", window.location.pathname);
  window.fetch(script.dataset.endpoint, {
    method: "POST",
    credentials: "same-origin",
    keepalive: true,
    headers: { "X-CSRFToken": script.dataset.csrf },
    body: body
  }).catch(function () {
    // Counting is best effort: a failure never disturbs the page.
  });
})();
