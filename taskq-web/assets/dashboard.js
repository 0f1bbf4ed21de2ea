// taskq dashboard: the little script beside htmx. It draws the live charts from the SSE
// `tick` events, keeps the selection across fragment refreshes, asks for confirmations, and
// sends actions as JSON (the server refuses non-JSON state changes: with the SameSite=Strict
// cookie that is the CSRF guard). The page never reloads and never polls: fragments are
// re-fetched by htmx when the stream says `changed`.
(function () {
  "use strict";
  var WINDOW = 300; // seconds of chart history
  var picked = new Set();

  // --- live indicator and ticks -----------------------------------------------------------
  function setLive(state, text) {
    var el = document.getElementById("live");
    if (!el) return;
    el.className = state;
    var t = document.getElementById("live-text");
    if (t) t.textContent = text;
  }
  // The page's stream, closed when the page is left: a browser holds at most 6 connections
  // to a server over HTTP/1.1, and a stream kept open by a page in the back/forward cache (or
  // not yet torn down) takes one of them, until requests of the next pages queue behind them.
  var stream = null;
  window.addEventListener("pagehide", function () {
    if (stream) { stream.close(); stream = null; }
  });
  // Back to a cached page whose stream was closed: show it fresh.
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) window.location.reload();
  });
  document.addEventListener("htmx:sseOpen", function (evt) {
    setLive("on", "live");
    var source = evt.detail && evt.detail.source;
    if (source) stream = source;
    if (source && !source.__taskqTicks) {
      source.__taskqTicks = true;
      source.addEventListener("tick", function (e) {
        try { onTick(JSON.parse(e.data)); } catch (err) { /* a malformed tick is skipped */ }
      });
    }
  });
  document.addEventListener("htmx:sseError", function () { setLive("off", "reconnecting"); });

  var series = [];
  function loadHistory() {
    var el = document.getElementById("history");
    if (!el) return;
    try { series = JSON.parse(el.textContent) || []; } catch (e) { series = []; }
    series = series.slice(-WINDOW);
  }

  function onTick(t) {
    var label = (t.throughput || 0).toFixed(t.throughput < 10 ? 1 : 0) + "/s";
    setLive(t.error ? "off" : "on", t.error ? "backend error" : "live · " + label);
    refreshTimes();
    if (!document.getElementById("chart-throughput")) return;
    var all = t.all || {};
    var point = {
      t: t.t,
      done: (all.succeeded || 0) + (all.failed || 0) + (all.retried || 0),
      submitted: all.submitted || 0,
      failure_rate: t.failure_rate || 0
    };
    if (series.length && series[series.length - 1].t >= point.t) {
      series[series.length - 1] = point;
    } else {
      series.push(point);
    }
    if (series.length > WINDOW) series.splice(0, series.length - WINDOW);
    drawCharts();
  }

  // --- charts -------------------------------------------------------------------------------
  function drawCharts() {
    document.querySelectorAll("canvas[data-series]").forEach(function (c) { draw(c); });
    var last = series[series.length - 1];
    var tp = document.getElementById("now-throughput");
    if (tp && last) tp.textContent = last.done + "/s";
    var fr = document.getElementById("now-failure");
    if (fr && last) fr.textContent = (last.failure_rate * 100).toFixed(1) + "%";
  }

  function draw(canvas) {
    var key = canvas.dataset.series, key2 = canvas.dataset.series2, percent = !!canvas.dataset.percent;
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || 300, h = canvas.clientHeight || 180;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var css = getComputedStyle(document.documentElement);
    var fg = css.getPropertyValue("--muted").trim() || "#888";
    var line = css.getPropertyValue("--line").trim() || "#ddd";
    var accent = css.getPropertyValue(percent ? "--bad" : "--accent").trim() || "#36c";
    var left = 44, bottom = 18, top = 6, right = 6;
    var pw = w - left - right, ph = h - top - bottom;
    var now = series.length ? series[series.length - 1].t : Math.floor(Date.now() / 1000);
    // The x range: the last 5 minutes, or less while the history is shorter (at least 1 min).
    var first = now;
    series.forEach(function (p) {
      if (p.t < first && ((p.done || 0) > 0 || (p.submitted || 0) > 0)) first = p.t;
    });
    var xspan = Math.min(WINDOW, Math.max(60, now - first + 10));
    var from = now - xspan + 1;
    var max = percent ? 0.05 : 1;
    series.forEach(function (p) {
      max = Math.max(max, p[key] || 0, key2 ? (p[key2] || 0) : 0);
    });
    if (percent) max = Math.min(1, Math.max(max, 0.05));
    else max = niceCeil(max);
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = fg;
    ctx.strokeStyle = line;
    ctx.lineWidth = 1;
    for (var i = 0; i <= 2; i++) {
      var y = top + ph - (ph * i) / 2;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + pw, y); ctx.stroke();
      var v = (max * i) / 2;
      ctx.fillText(percent ? Math.round(v * 1000) / 10 + "%" : fmt(v), 2, y + 4);
    }
    ctx.fillText(xspan >= WINDOW ? "-5 min" : "-" + xspan + " s", left, h - 4);
    ctx.fillText("now", left + pw - 22, h - 4);
    function plot(k, color, dash) {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.6;
      ctx.setLineDash(dash || []);
      ctx.beginPath();
      var started = false;
      series.forEach(function (p) {
        if (p.t < from) return;
        var x = left + ((p.t - from) / (xspan - 1)) * pw;
        var y = top + ph - ((p[k] || 0) / max) * ph;
        if (!started) { ctx.moveTo(x, y); started = true; } else { ctx.lineTo(x, y); }
      });
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (key2) plot(key2, fg, [4, 3]);
    plot(key, accent);
  }
  function niceCeil(v) {
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function fmt(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (v >= 1e3) return (v / 1e3).toFixed(v >= 1e4 ? 0 : 1) + "k";
    return String(Math.round(v * 10) / 10);
  }

  // --- relative times -----------------------------------------------------------------------
  function span(ms) {
    if (ms < 1000) return ms + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    if (ms < 3600000) return Math.floor(ms / 60000) + " min";
    return (ms / 3600000).toFixed(1) + " h";
  }
  function refreshTimes() {
    var now = Date.now();
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      var at = Number(el.getAttribute("datetime"));
      if (!at) return;
      el.textContent = at > now ? "in " + span(at - now) : span(now - at) + " ago";
    });
  }

  // --- selection ------------------------------------------------------------------------------
  function applySelection() {
    document.querySelectorAll("input.pick").forEach(function (box) {
      box.checked = picked.has(box.value);
      var row = box.closest("tr");
      if (row) row.classList.toggle("picked", box.checked);
    });
    // Forget ids no longer listed, so an action never touches what is not on the page.
    var shown = new Set();
    document.querySelectorAll("input.pick").forEach(function (b) { shown.add(b.value); });
    picked.forEach(function (id) { if (!shown.has(id)) picked.delete(id); });
    var count = document.getElementById("bulk-count");
    if (count) {
      var matched = matchedCount();
      count.textContent = picked.size
        ? picked.size + " selected: actions apply to the selection"
        : (document.querySelector("[data-bulk]")
          ? "no selection: actions apply to all " + matched + " matching"
          : "select dead letters to act on several");
    }
  }
  function matchedCount() {
    var l = document.querySelector("#frag .listing");
    return l ? Number(l.dataset.matched || 0) : 0;
  }
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.classList && t.classList.contains("pick")) {
      if (t.checked) picked.add(t.value); else picked.delete(t.value);
      applySelection();
    } else if (t.id === "select-all") {
      document.querySelectorAll("input.pick").forEach(function (b) {
        if (t.checked) picked.add(b.value); else picked.delete(b.value);
      });
      applySelection();
    }
  });
  document.addEventListener("htmx:afterSwap", function () { applySelection(); refreshTimes(); });

  // --- confirmations, toasts, requests -------------------------------------------------------
  function confirmDialog(text) {
    var d = document.getElementById("confirm");
    if (!d || typeof d.showModal !== "function") return Promise.resolve(window.confirm(text));
    document.getElementById("confirm-text").textContent = text;
    return new Promise(function (resolve) {
      d.addEventListener("close", function once() {
        d.removeEventListener("close", once);
        resolve(d.returnValue === "ok");
      });
      d.returnValue = "";
      d.showModal();
    });
  }
  function toast(text, bad) {
    var box = document.getElementById("toast");
    if (!box) return;
    var m = document.createElement("div");
    m.className = "msg" + (bad ? " bad" : "");
    m.textContent = text;
    box.appendChild(m);
    setTimeout(function () { m.remove(); }, bad ? 8000 : 4000);
  }
  function api(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-Taskq-Dashboard": "1" },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (!r.ok) {
          var err = new Error((data && (data.detail || data.title)) || ("HTTP " + r.status));
          err.status = r.status;
          err.data = data;
          throw err;
        }
        return data;
      });
    });
  }
  function refresh() {
    var frag = document.getElementById("frag");
    if (frag && frag.getAttribute("hx-get") && window.htmx) {
      htmx.ajax("GET", frag.getAttribute("hx-get"), { target: "#frag", swap: "innerHTML" });
    }
  }
  function done(what) {
    return function (r) {
      var n = r && typeof r.done === "number" ? r.done + " " : "";
      toast(what + (n ? ": " + n + "done" : "") + (r && r.skipped ? ", " + r.skipped + " skipped" : ""));
      picked.clear();
      refresh();
    };
  }
  function failed(e) { toast(e.message, true); }
  function plural(n, one) { return n + " " + one + (n === 1 ? "" : "s"); }

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[data-action], button[data-bulk], button[data-dead-bulk]");
    if (!b) return;
    e.preventDefault();
    var d = b.dataset, q = d.queue;
    if (d.action === "pause" || d.action === "resume") {
      api("POST", "/api/queues/" + encodeURIComponent(q) + "/" + d.action)
        .then(function () { toast("Queue " + q + " " + (d.action === "pause" ? "paused" : "resumed")); refresh(); }, failed);
    } else if (d.action === "revoke") {
      confirmDialog("Revoke task " + d.id + "?").then(function (ok) {
        if (ok) api("DELETE", "/api/tasks/" + d.id).then(function () { toast("Revoked"); refresh(); }, failed);
      });
    } else if (d.action === "requeue" || d.action === "purge") {
      var verb = d.action === "requeue" ? "Requeue" : "Purge";
      confirmDialog(verb + " dead letter " + d.id + " of queue " + q + "?").then(function (ok) {
        if (ok) api("POST", "/ui/actions/dead", { action: d.action, items: [{ queue: q, id: d.id }] })
          .then(done(verb), failed);
      });
    } else if (d.action === "requeue-reason" || d.action === "purge-reason") {
      var act = d.action.split("-")[0];
      confirmDialog((act === "requeue" ? "Requeue" : "Purge") + " all dead letters of queue " + q +
        " with reason " + d.reason + " (" + d.count + " listed)?").then(function (ok) {
        if (ok) api("POST", "/ui/actions/dead", { action: act, queue: q, reason: d.reason })
          .then(done(act === "requeue" ? "Requeued" : "Purged"), failed);
      });
    } else if (d.deadBulk) {
      var items = [];
      document.querySelectorAll("input.pick:checked").forEach(function (box) {
        items.push({ queue: box.dataset.queue, id: box.value });
      });
      if (!items.length) { toast("Select dead letters first", true); return; }
      confirmDialog((d.deadBulk === "requeue" ? "Requeue " : "Purge ") + plural(items.length, "selected dead letter") + "?")
        .then(function (ok) {
          if (ok) api("POST", "/ui/actions/dead", { action: d.deadBulk, items: items }).then(done("Done"), failed);
        });
    } else if (d.bulk) {
      var body, text;
      if (picked.size) {
        body = { action: d.bulk, ids: Array.from(picked) };
        text = d.bulk + " " + plural(picked.size, "selected task") + "?";
      } else {
        var frag = document.getElementById("frag");
        var listing = document.querySelector("#frag .listing");
        var filter = {};
        try { filter = JSON.parse(frag.dataset.filter || "{}"); } catch (err) { filter = {}; }
        body = { action: d.bulk, filter: filter, cutoff: listing ? Number(listing.dataset.cutoff) : Date.now() };
        text = d.bulk + " all " + plural(matchedCount(), "task") + " matching this filter " +
          "(only tasks enqueued before the list was shown)?";
      }
      confirmDialog(text.charAt(0).toUpperCase() + text.slice(1)).then(function (ok) {
        if (ok) api("POST", "/ui/actions/tasks", body).then(done(d.bulk), failed);
      });
    }
  });

  // --- enqueue --------------------------------------------------------------------------------
  // The form is generated from the task's schema; the browser does not validate it
  // (`novalidate`): the API checks the body against the schema and answers 422 with every
  // field error, which is shown under its field.
  function numberOrText(text) {
    var t = text.trim(), n = Number(t);
    // What is not a number goes as typed: the API's error then names the field and the value.
    return t !== "" && isFinite(n) ? n : text;
  }
  function clearFieldErrors(form) {
    form.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
  }
  // Shows `fe` under the input it points at; false when no input matches.
  function showFieldError(form, fe) {
    var parts = (fe.pointer || "").split("/").slice(1).map(function (p) {
      return p.replace(/~1/g, "/").replace(/~0/g, "~");
    });
    var el = null;
    if (parts.length === 2 && parts[0] === "options") {
      el = form.querySelector('[data-option="' + CSS.escape(parts[1]) + '"]');
    } else if (parts.length >= 1) {
      el = form.querySelector('[data-arg="' + CSS.escape(parts[0]) + '"]');
    }
    if (!el) return false;
    el.setAttribute("aria-invalid", "true");
    var msg = document.createElement("small");
    msg.className = "field-error";
    msg.dataset.pointer = fe.pointer;
    msg.textContent = fe.detail;
    var field = el.closest(".field, label") || el.parentNode;
    field.appendChild(msg);
    return true;
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.id !== "enqueue-task") return;
    e.preventDefault();
    var body = {}, options = {}, result = document.getElementById("enqueue-result");
    clearFieldErrors(form);
    result.className = "result";
    try {
      form.querySelectorAll("[data-arg]").forEach(function (el) {
        var k = el.dataset.arg, kind = el.dataset.kind;
        if (kind === "boolean") { body[k] = el.checked; return; }
        // An empty field is left out: an optional argument then takes its default.
        if (el.value === "") return;
        if (kind === "number") body[k] = numberOrText(el.value);
        else if (kind === "json") {
          try { body[k] = JSON.parse(el.value); } catch (err) {
            err.field = k;
            throw err;
          }
        } else body[k] = el.value;
      });
    } catch (err) {
      result.textContent = "Not JSON: " + err.message;
      result.className = "result error";
      if (err.field) showFieldError(form, { pointer: "/" + err.field, detail: "not JSON: " + err.message });
      return;
    }
    form.querySelectorAll("[data-option]").forEach(function (el) {
      if (el.value === "") return;
      options[el.dataset.option] = el.dataset.option === "priority" ? numberOrText(el.value) : el.value;
    });
    if (Object.keys(options).length) body.options = options;
    var button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    api("POST", "/api/tasks/" + encodeURIComponent(form.dataset.task), body).then(function (r) {
      if (button) button.disabled = false;
      result.innerHTML = "";
      var a = document.createElement("a");
      a.href = "/tasks/" + r.id;
      a.id = "enqueued";
      a.dataset.id = r.id;
      a.textContent = "Enqueued " + r.id;
      result.appendChild(a);
    }, function (err) {
      if (button) button.disabled = false;
      result.textContent = err.message;
      result.className = "result error";
      var errors = err.data && err.data.errors;
      if (errors && errors.length) {
        var ul = document.createElement("ul");
        errors.forEach(function (fe) {
          showFieldError(form, fe);
          var li = document.createElement("li");
          li.textContent = (fe.pointer || "/") + ": " + fe.detail;
          ul.appendChild(li);
        });
        result.appendChild(ul);
      }
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    loadHistory();
    drawCharts();
    applySelection();
    window.addEventListener("resize", drawCharts);
  });
})();
