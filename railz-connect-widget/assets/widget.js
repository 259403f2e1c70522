// railz-connect widget page. Talks to the router's JSON API only, builds DOM with textContent
// (never innerHTML), and exchanges postMessage only with exact, checked origins.
(function () {
  "use strict";
  var root = document.getElementById("rcw");
  if (!root) return;
  var d = root.dataset;
  var base = d.base || "";
  var widgetId = d.widget;
  var display = d.display || "page";
  var parentOrigin = d.parentOrigin || "";
  var lang = d.lang || "en";
  var POPUP = "railz-connect-authorization";
  var sessionKey = "railz-connect-session:" + widgetId;
  var returnKey = "railz-connect-return";
  var state = { session: null, popup: null, pendingUrl: null, ticket: null, done: false, timer: null };

  function $(id) { return document.getElementById(id); }
  function reason(code) {
    var items = $("rcw-reasons").children;
    var fallback = "";
    for (var i = 0; i < items.length; i++) {
      if (items[i].dataset.code === code) return items[i].textContent;
      if (items[i].dataset.code === "unknown") fallback = items[i].textContent;
    }
    return fallback;
  }
  function status(text) { $("rcw-status").textContent = text || ""; }

  function show(id) {
    var screens = document.querySelectorAll(".rcw-screen");
    for (var i = 0; i < screens.length; i++) screens[i].hidden = screens[i].id !== id;
    var heading = $(id).querySelector("h1");
    if (heading) heading.focus();
  }

  // Messages to the embedding page: only in a frame or a popup, only to the allowed origin.
  function notify(type, payload) {
    if (!parentOrigin) return;
    var target = display === "frame" ? window.parent : display === "popup" ? window.opener : null;
    if (!target || target === window) return;
    target.postMessage({ source: "railz-connect", type: type, payload: payload || {} }, parentOrigin);
  }

  function fail(code, stage, message) {
    finish();
    $("rcw-error-code").textContent = code;
    $("rcw-error-message").textContent = message || reason(code);
    $("rcw-error").dataset.errorCode = code;
    $("rcw-error").dataset.stage = stage;
    show("rcw-error");
    notify("error", { stage: stage, errorCode: code, errorMessage: message || reason(code) });
  }

  function finish() {
    if (state.timer) { clearTimeout(state.timer); state.timer = null; }
  }

  function armTimeout() {
    finish();
    var secs = parseInt(d.timeout, 10);
    if (secs > 0) state.timer = setTimeout(function () { if (!state.done) fail("timeout", "timeout"); }, secs * 1000);
  }

  function api(method, path, body, bearer) {
    var headers = { "Accept": "application/json", "X-CSRF-Token": d.csrf };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (bearer) headers.Authorization = "Bearer " + bearer;
    return fetch(base + "/api" + path + (path.indexOf("?") < 0 ? "?" : "&") + "language=" + encodeURIComponent(lang), {
      method: method, headers: headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (json) {
        if (!r.ok) { var e = new Error(json.errorCode || "unknown"); e.code = json.errorCode || "unknown"; e.text = json.errorMessage; throw e; }
        return json;
      });
    });
  }

  function session() {
    if (state.session) return Promise.resolve(state.session);
    if (d.public !== "true") return Promise.reject(Object.assign(new Error("invalidSession"), { code: "invalidSession" }));
    return api("POST", "/widgets/" + encodeURIComponent(widgetId) + "/sessions",
      { businessName: d.business || null, redirectUrl: d.redirect || null }).then(function (s) {
        state.session = s.sessionToken;
        try { sessionStorage.setItem(sessionKey, s.sessionToken); } catch (e) { /* storage off: keep it in memory */ }
        return s.sessionToken;
      });
  }

  function outcome(o) {
    if (o.status === "connected") {
      state.done = true;
      finish();
      show("rcw-success");
      var payload = { connectionId: o.connectionId, serviceName: o.serviceName, businessName: o.businessName, landingUrl: o.landingUrl };
      $("rcw-success").dataset.connectionId = o.connectionId;
      notify("success", payload);
      if (display === "page" && o.landingUrl) window.location.replace(o.landingUrl);
    } else if (o.status === "chooseTenant") {
      state.ticket = o.ticket;
      var box = $("rcw-tenants");
      box.textContent = "";
      o.tenants.forEach(function (t, i) {
        var row = document.createElement("div");
        row.className = "rcw-choice";
        var input = document.createElement("input");
        input.type = "radio"; input.name = "tenant"; input.value = t.id; input.id = "rcw-tenant-" + i;
        if (i === 0) input.checked = true;
        var label = document.createElement("label");
        label.htmlFor = input.id; label.textContent = t.name || t.id;
        row.appendChild(input); row.appendChild(label); box.appendChild(row);
      });
      show("rcw-tenant");
    } else {
      fail(o.errorCode || "unknown", "authorization", o.errorMessage);
      if (display === "page" && o.landingUrl) $("rcw-error").dataset.landingUrl = o.landingUrl;
    }
  }

  function refused(stage) {
    return function (e) { status(""); fail(e.code || "unknown", stage, e.text); };
  }

  function start(service, inputs) {
    // A frame cannot show the provider (providers refuse framing): the sign-in opens in a
    // popup, opened now, while the click still counts as the user's.
    if (display === "frame") state.popup = window.open("", POPUP, "popup,width=520,height=720");
    status("");
    show("rcw-working");
    session().then(function (token) {
      return api("POST", "/authorizations", { serviceName: service, inputs: inputs }, token);
    }).then(function (r) {
      if (r.status !== "redirect") { closePopup(); outcome(r); return; }
      state.pendingUrl = r.url;
      if (display === "frame") {
        if (!state.popup || state.popup.closed) { fail("popupBlocked", "authorization"); return; }
        state.popup.location.replace(r.url);
        show("rcw-redirect");
      } else {
        try { sessionStorage.setItem(returnKey, JSON.stringify({ widget: widgetId, search: location.search })); } catch (e) { /* no storage: the callback page says so */ }
        window.location.assign(r.url);
      }
    }).catch(function (e) { closePopup(); refused("authorization")(e); });
  }

  function closePopup() { if (state.popup && !state.popup.closed) state.popup.close(); state.popup = null; }

  function complete(query) {
    show("rcw-working");
    api("POST", "/callback", { query: query }).then(outcome).catch(refused("authorization"));
  }

  function filter() {
    var q = ($("rcw-search").value || "").trim().toLowerCase();
    var country = $("rcw-country") ? $("rcw-country").value : "";
    var buttons = document.querySelectorAll(".rcw-service");
    var shown = 0;
    for (var i = 0; i < buttons.length; i++) {
      var b = buttons[i];
      var c = b.dataset.countries;
      var ok = (!q || b.dataset.name.indexOf(q) >= 0 || b.dataset.service.toLowerCase().indexOf(q) >= 0) &&
        (!country || !c || c.split(" ").indexOf(country) >= 0);
      b.parentNode.hidden = !ok;
      if (ok) shown++;
    }
    $("rcw-empty").hidden = shown !== 0;
    status(shown + " / " + buttons.length);
  }

  function pick(button) {
    var service = button.dataset.service;
    if (button.dataset.inputs === "true") {
      show("rcw-inputs-" + service);
      var first = $("rcw-inputs-" + service).querySelector("input, select");
      if (first) first.focus();
    } else {
      start(service, {});
    }
  }

  function submitInputs(form) {
    var inputs = {};
    var missing = null;
    var fields = form.querySelectorAll("input, select");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      f.removeAttribute("aria-invalid");
      if (f.required && !f.value.trim()) { f.setAttribute("aria-invalid", "true"); missing = missing || f; }
      if (f.value) inputs[f.name] = f.value;
    }
    if (missing) { missing.focus(); status(reason("invalidInput")); return; }
    start(form.dataset.service, inputs);
  }

  // The callback page: hand the provider's answer to the widget page that began.
  function callbackPage() {
    var query = location.search.replace(/^\?/, "");
    history.replaceState(null, "", location.pathname);
    var back = null;
    try { back = JSON.parse(sessionStorage.getItem(returnKey) || "null"); sessionStorage.removeItem(returnKey); } catch (e) { back = null; }
    if (back && back.widget) {
      location.replace(base + "/w/" + encodeURIComponent(back.widget) + (back.search || "") + "#callback=" + encodeURIComponent(query));
      return;
    }
    if (window.name === POPUP && window.opener) {
      window.opener.postMessage({ source: "railz-connect-callback", query: query }, location.origin);
      window.close();
    }
    $("rcw-lost").hidden = false;
  }

  function init() {
    if (d.mode === "callback") { callbackPage(); return; }
    $("rcw-close").addEventListener("click", function () {
      notify("exit");
      closePopup();
      if (display === "popup") window.close();
      else if (display === "page") {
        var landing = $("rcw-error").dataset.landingUrl;
        window.location.assign(landing || d.closeUrl);
      }
    });
    if (d.loadError) { fail(d.loadError, "load"); return; }

    var fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    try { state.session = fragment.get("session") || sessionStorage.getItem(sessionKey); } catch (e) { state.session = fragment.get("session"); }
    if (fragment.get("session")) { try { sessionStorage.setItem(sessionKey, fragment.get("session")); } catch (e) { /* memory only */ } }

    $("rcw-search").addEventListener("input", filter);
    if ($("rcw-country")) $("rcw-country").addEventListener("change", filter);
    $("rcw-services").addEventListener("click", function (e) {
      var b = e.target.closest(".rcw-service");
      if (b) pick(b);
    });
    var forms = document.querySelectorAll("form.rcw-form[data-service]");
    for (var i = 0; i < forms.length; i++) {
      forms[i].addEventListener("submit", function (e) { e.preventDefault(); submitInputs(e.currentTarget); });
      forms[i].querySelector(".rcw-back").addEventListener("click", function () { show("rcw-picker"); });
    }
    $("rcw-tenant-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var chosen = document.querySelector("input[name=tenant]:checked");
      if (!chosen) return;
      show("rcw-working");
      api("POST", "/tenants", { ticket: state.ticket, tenantId: chosen.value }).then(outcome).catch(refused("authorization"));
    });
    $("rcw-retry").addEventListener("click", function () { state.done = false; armTimeout(); show("rcw-picker"); filter(); });
    $("rcw-reopen").addEventListener("click", function () {
      if (!state.pendingUrl) return;
      state.popup = window.open(state.pendingUrl, POPUP, "popup,width=520,height=720");
      if (!state.popup) fail("popupBlocked", "authorization");
    });
    // The sign-in popup hands the callback back here; nothing else is listened to.
    window.addEventListener("message", function (e) {
      if (e.origin !== location.origin || !state.popup || e.source !== state.popup) return;
      if (!e.data || e.data.source !== "railz-connect-callback" || typeof e.data.query !== "string") return;
      state.popup = null;
      complete(e.data.query);
    });

    armTimeout();
    if (fragment.get("callback") !== null) { complete(fragment.get("callback")); return; }
    if (!state.session && d.public !== "true") { fail("invalidSession", "load"); return; }
    filter();
    status("");
    notify("ready");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
