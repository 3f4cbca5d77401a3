/* Mindomo Accounts: small progressive enhancements, no inline script anywhere (Content-Security-Policy).
   - "Show password" toggles next to every password field (labels come from <body data-*> in the page language);
   - a live status region that follows a job's progress by polling a status URL (data-poll-url);
   - the device's time zone in the mindomo_tz cookie, so times show in the reader's zone;
   - a search box that narrows a long table to the rows whose header matches (data-table-filter). */
(function () {
  "use strict";

  function passwordToggles() {
    var body = document.body;
    var show = body.getAttribute("data-show-password") || "Show password";
    var hide = body.getAttribute("data-hide-password") || "Hide password";
    var fields = document.querySelectorAll("input[type=password]");
    Array.prototype.forEach.call(fields, function (input) {
      if (!input.id || input.getAttribute("data-has-toggle")) { return; }
      input.setAttribute("data-has-toggle", "1");
      var wrapper = document.createElement("span");
      wrapper.className = "password-field";
      input.parentNode.insertBefore(wrapper, input);
      wrapper.appendChild(input);
      var button = document.createElement("button");
      button.type = "button";
      button.className = "secondary small password-toggle";
      button.setAttribute("aria-controls", input.id);
      button.setAttribute("aria-pressed", "false");
      button.textContent = show;
      button.addEventListener("click", function () {
        var showing = input.type === "text";
        input.type = showing ? "password" : "text";
        button.setAttribute("aria-pressed", showing ? "false" : "true");
        button.textContent = showing ? show : hide;
      });
      wrapper.appendChild(button);
    });
  }

  function pollers() {
    var regions = document.querySelectorAll("[data-poll-url]");
    Array.prototype.forEach.call(regions, function (region) {
      var url = region.getAttribute("data-poll-url");
      var interval = parseInt(region.getAttribute("data-poll-interval") || "2000", 10);
      var tries = 0;
      function tick() {
        tries += 1;
        fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (data) {
            if (!data) { return; }
            var text = region.querySelector("[data-poll-text]");
            if (text && data.text && text.textContent !== data.text) { text.textContent = data.text; }
            var bar = region.querySelector("progress");
            if (bar && typeof data.done === "number" && typeof data.total === "number") {
              bar.max = data.total || 1;
              bar.value = data.done;
            }
            if (data.finished) {
              if (bar) { bar.hidden = true; }
              var link = region.querySelector("[data-poll-link]");
              if (link && data.link_url) {
                link.href = data.link_url;
                link.textContent = data.link_label || link.textContent;
                link.hidden = false;
              }
              return;
            }
            if (tries < 900) { window.setTimeout(tick, interval); }
          })
          .catch(function () { if (tries < 900) { window.setTimeout(tick, interval * 2); } });
      }
      window.setTimeout(tick, interval);
    });
  }

  // The device's time zone (an IANA name), so that the next pages show times where the reader lives
  // (mindomo/timezones.py). Set only when it changes; nothing else is read or sent.
  function timeZone() {
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
    if (!/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) { return; }
    var current = (document.cookie.match(/(?:^|; )mindomo_tz=([^;]*)/) || [])[1];
    if (current === zone) { return; }
    var secure = window.location.protocol === "https:" ? "; Secure" : "";
    document.cookie = "mindomo_tz=" + zone + "; Path=/; Max-Age=31536000; SameSite=Lax" + secure;
  }

  // Narrow a table to the rows whose row header contains what was typed (accents and case ignored); the row
  // marked data-default stays, since it applies to every place not listed. Without script the box stays hidden.
  function fold(text) {
    return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
  }
  function tableFilters() {
    var boxes = document.querySelectorAll("[data-table-filter]");
    Array.prototype.forEach.call(boxes, function (box) {
      var table = document.getElementById(box.getAttribute("data-table-filter"));
      var input = box.querySelector("input");
      var count = box.querySelector("[aria-live]");
      if (!table || !input) { return; }
      var rows = table.querySelectorAll("tbody tr");
      function apply() {
        var wanted = fold(input.value);
        var shown = 0;
        Array.prototype.forEach.call(rows, function (row) {
          var header = row.querySelector("th");
          var match = !wanted || fold(header ? header.textContent : "").indexOf(wanted) !== -1;
          row.hidden = !match && !row.hasAttribute("data-default");
          if (match && !row.hasAttribute("data-default")) { shown += 1; }
        });
        if (!count) { return; }
        if (!wanted) { count.textContent = ""; }
        else if (shown === 0) { count.textContent = count.getAttribute("data-count-none"); }
        else { count.textContent = count.getAttribute("data-count").replace("{count}", String(shown)); }
      }
      input.addEventListener("input", apply);
      box.hidden = false;
    });
  }

  function ready() { passwordToggles(); pollers(); timeZone(); tableFilters(); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", ready); } else { ready(); }
})();
