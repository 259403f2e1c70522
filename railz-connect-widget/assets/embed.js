// railz-connect embed script, shaped like Railz Connect's JS SDK:
//   var widget = new RailzConnect();
//   widget.mount({ parentElement: el, widgetId: "...", token: "...", onSuccess: fn, onError: fn, onExit: fn });
//   widget.open({...});   // the same, in a popup window
//   widget.unmount();
// Messages from the widget are accepted only from its own window and its own origin.
(function () {
  "use strict";
  var script = document.currentScript;
  var BASE = script && script.src ? new URL(".", script.src) : null;

  function list(value) {
    if (!value) return "";
    return (Array.isArray(value) ? value : [value]).map(String).join(",");
  }

  function widgetUrl(options, display, base) {
    if (!options || !options.widgetId) throw new Error("RailzConnect: options.widgetId is required");
    var url = new URL("w/" + encodeURIComponent(options.widgetId), base);
    var q = url.searchParams;
    q.set("display", display);
    q.set("origin", window.location.origin);
    var theme = options.theme || {};
    var set = function (name, value) { if (value !== undefined && value !== null && value !== "") q.set(name, String(value)); };
    set("language", options.language);
    set("businessName", options.businessName);
    set("redirectUrl", options.redirectUrl);
    set("countryCodes", list(options.countryCodes));
    set("exclude", list(options.services && options.services.exclude));
    set("sessionTimeout", options.sessionTimeout);
    set("logo", theme.logo);
    set("fontFamily", theme.fontFamily);
    set("primary", theme.primary);
    set("secondary", theme.secondary);
    if (options.content) set("content", JSON.stringify(options.content));
    var token = options.token || options.sessionToken;
    // The session token travels in the fragment: never sent to a server, never in a log.
    if (token) url.hash = "session=" + encodeURIComponent(token);
    return url;
  }

  function RailzConnect(config) {
    this._base = (config && config.baseUrl) ? new URL(config.baseUrl, window.location.href) : BASE;
    if (!this._base) throw new Error("RailzConnect: load embed.js with a src, or pass { baseUrl }");
    this._frame = null;
    this._window = null;
    this._listener = null;
    this._options = null;
  }

  RailzConnect.prototype._listen = function (source, origin) {
    var self = this;
    this._listener = function (e) {
      if (e.origin !== origin || e.source !== source()) return;
      var m = e.data;
      if (!m || m.source !== "railz-connect" || typeof m.type !== "string") return;
      var o = self._options || {};
      var p = m.payload || {};
      if (m.type === "success") {
        if (typeof o.onSuccess === "function") o.onSuccess({ connectionId: p.connectionId, serviceName: p.serviceName, businessName: p.businessName });
        if (o.redirectUrl && p.landingUrl) window.location.assign(p.landingUrl);
      } else if (m.type === "error") {
        if (typeof o.onError === "function") o.onError({ stage: p.stage, errorCode: p.errorCode, errorMessage: p.errorMessage });
      } else if (m.type === "exit") {
        var close = o.closeRedirectUrl;
        if (typeof o.onExit === "function") o.onExit();
        self.unmount();
        if (close) window.location.assign(close);
      } else if (m.type === "ready" && typeof o.onLoad === "function") {
        o.onLoad();
      }
    };
    window.addEventListener("message", this._listener);
  };

  /** Shows the widget inside `options.parentElement` (an element or its id). */
  RailzConnect.prototype.mount = function (options) {
    this.unmount();
    var parent = typeof options.parentElement === "string" ? document.getElementById(options.parentElement) : options.parentElement;
    if (!parent) throw new Error("RailzConnect: options.parentElement is required");
    var url = widgetUrl(options, "frame", this._base);
    var frame = document.createElement("iframe");
    frame.src = url.href;
    frame.title = options.title || "Connect accounting software";
    frame.referrerPolicy = "no-referrer";
    frame.setAttribute("allow", "");
    frame.style.border = "0";
    frame.style.width = "100%";
    frame.style.height = (options.height || 640) + "px";
    this._options = options;
    this._frame = frame;
    this._listen(function () { return frame.contentWindow; }, url.origin);
    parent.appendChild(frame);
    return frame;
  };

  /** Opens the widget in a popup window (call it from a click). */
  RailzConnect.prototype.open = function (options) {
    this.unmount();
    var url = widgetUrl(options, "popup", this._base);
    var self = this;
    this._options = options;
    this._window = window.open(url.href, "railz-connect", "popup,width=520,height=760");
    if (!this._window) {
      if (typeof options.onError === "function") options.onError({ stage: "load", errorCode: "popupBlocked", errorMessage: "The widget window was blocked." });
      return null;
    }
    this._listen(function () { return self._window; }, url.origin);
    return this._window;
  };

  /** Removes the widget (or closes its window) and stops listening. */
  RailzConnect.prototype.unmount = function () {
    if (this._listener) window.removeEventListener("message", this._listener);
    if (this._frame && this._frame.parentNode) this._frame.parentNode.removeChild(this._frame);
    if (this._window && !this._window.closed) this._window.close();
    this._listener = null;
    this._frame = null;
    this._window = null;
  };

  window.RailzConnect = RailzConnect;
})();
