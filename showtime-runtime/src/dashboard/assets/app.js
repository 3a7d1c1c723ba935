// Showtime dashboard: live updates without reloading. The page works without
// this script; it polls /dashboard/data with If-None-Match (a 304 costs
// nothing) and redraws the table when the data changed. Ages, time left and
// costs so far are recomputed at every poll. No inline script, no eval, no
// innerHTML: values only ever become text.
(function () {
  "use strict";
  var body = document.body;
  var table = document.getElementById("envs");
  if (!table) return;
  var every = Math.max(1, parseInt(body.getAttribute("data-refresh"), 10) || 15) * 1000;
  var tbody = table.tBodies[0];
  var actions = document.getElementById("a");
  var etag = null;
  var data = null;

  function span(seconds) {
    var m = Math.floor(Math.max(0, seconds) / 60);
    var d = Math.floor(m / 1440), h = Math.floor(m / 60) % 24;
    m = m % 60;
    return d > 0 ? d + "d " + h + "h" : h > 0 ? h + "h " + m + "m" : m + "m";
  }
  function secs(iso) { return iso ? Date.parse(iso) / 1000 : null; }
  function el(tag, text, attrs) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    return e;
  }
  function cell(tr, child) {
    var td = el("td");
    if (typeof child === "string") td.textContent = child; else td.appendChild(child);
    tr.appendChild(td);
    return td;
  }
  function button(verb, label, pr, danger) {
    var b = el("button", label, { form: "a", name: "do", value: verb + ":" + pr });
    if (danger) b.className = "x";
    return b;
  }
  function row(env, now) {
    var tr = el("tr");
    var name = "#" + env.pr + (env.title ? " " + env.title : "");
    cell(tr, data.pulls ? el("a", name, { href: data.pulls + env.pr }) : name);
    cell(tr, env.requester || "-");
    cell(tr, env.sha);
    cell(tr, el("b", env.status, { "class": "st-" + env.status }));
    cell(tr, env.address ? el("a", env.address, { href: "http://" + env.address }) : "-");
    var created = secs(env.created_at), expires = secs(env.expires_at);
    cell(tr, created === null ? "-" : span(now - created));
    cell(tr, expires !== null ? (expires <= now ? "expired" : span(expires - now)) : (env.ttl || "-"));
    cell(tr, env.size || "-");
    cell(tr, env.flags ? env.flags.join(", ") : "-");
    cell(tr, env.per_hour != null && created !== null
      ? "$" + (env.per_hour * Math.max(0, now - created) / 3600).toFixed(2) : "-");
    if (actions) {
      var td = cell(tr, "");
      if (env.status === "sleeping") td.appendChild(button("wake", "Wake", env.pr));
      td.appendChild(button("extend", "Extend", env.pr));
      td.appendChild(button("refresh", "Refresh", env.pr));
      td.appendChild(button("destroy", "Destroy", env.pr, true));
    }
    return tr;
  }
  function draw() {
    var now = Date.now() / 1000;
    var rows = document.createDocumentFragment();
    data.environments.forEach(function (env) { rows.appendChild(row(env, now)); });
    tbody.replaceChildren(rows);
    var n = data.environments.length;
    document.getElementById("count").textContent = n + " environment" + (n === 1 ? "" : "s");
    var problem = document.getElementById("problem");
    problem.textContent = data.problem || "";
    problem.hidden = !data.problem;
  }
  function poll() {
    var headers = etag ? { "If-None-Match": etag } : {};
    fetch("/dashboard/data" + location.search, { headers: headers, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 304) return null;
        if (!r.ok) throw new Error("HTTP " + r.status);
        etag = r.headers.get("ETag");
        return r.json();
      })
      .then(function (fresh) {
        if (fresh) data = fresh;
        if (data) draw();
        body.removeAttribute("data-stale");
      })
      .catch(function () { body.setAttribute("data-stale", ""); })
      .then(function () { setTimeout(poll, every); });
  }
  // Destroy asks first; a sent form disables its buttons until the answer.
  document.addEventListener("click", function (e) {
    var b = e.target;
    if (b.tagName === "BUTTON" && b.value && b.value.indexOf("destroy:") === 0 &&
        !window.confirm("Destroy the environment of PR #" + b.value.slice(8) + "?")) {
      e.preventDefault();
    }
  });
  if (actions) actions.addEventListener("submit", function () {
    setTimeout(function () {
      Array.prototype.forEach.call(document.querySelectorAll("button[form=a]"), function (b) { b.disabled = true; });
    }, 0);
  });
  setTimeout(poll, every);
})();
