/* tcma web widget loader, v1. Plain JavaScript, no build step.
 *
 * <script async src="https://PORTAL/embed/v1.js" data-tcma-widget="TOKEN"></script>
 * <a href="..." data-tcma-fallback="TOKEN">...</a>
 *
 * Inserts the widget's iframe after each such script tag and sizes it from the frame's
 * height messages. Defines only window.TCMA; never throws into the host page: if anything
 * fails, the fallback link simply stays.
 */
(function () {
  "use strict";
  var TCMA = window.TCMA = window.TCMA || {};
  if (TCMA.version) { if (TCMA.scan) TCMA.scan(); return; }
  TCMA.version = 1;
  var frames = [];
  var TOKEN = /^[A-Za-z0-9_-]{16,32}$/;
  var MAX_HEIGHT = 20000;

  function originOf(url) {
    var a = document.createElement("a");
    a.href = url;
    return a.protocol + "//" + a.host;
  }

  function fallbackFor(token) {
    var links = document.querySelectorAll("a[data-tcma-fallback]");
    for (var i = 0; i < links.length; i++) {
      if (links[i].getAttribute("data-tcma-fallback") === token) return links[i];
    }
    return null;
  }

  function mount(script) {
    if (script.getAttribute("data-tcma-mounted")) return;
    script.setAttribute("data-tcma-mounted", "1");
    var token = script.getAttribute("data-tcma-widget") || "";
    if (!TOKEN.test(token) || !script.parentNode) return;
    var origin = originOf(script.src);
    var frame = document.createElement("iframe");
    frame.src = origin + "/embed/w/" + token + "?parent=" +
      encodeURIComponent(window.location.protocol + "//" + window.location.host);
    frame.title = script.getAttribute("data-title") || "News and resources";
    frame.setAttribute("scrolling", "no");
    frame.setAttribute("data-tcma-frame", token);
    frame.style.cssText = "display:block;width:100%;height:0;border:0;margin:0;padding:0;" +
      "overflow:hidden;background:transparent;color-scheme:normal";
    script.parentNode.insertBefore(frame, script.nextSibling);
    frames.push({frame: frame, origin: origin, token: token, fallback: fallbackFor(token)});
  }

  function onMessage(event) {
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      // Only our frame, from our origin: the host page (or another frame) cannot resize it.
      if (event.source !== f.frame.contentWindow || event.origin !== f.origin) continue;
      var data = event.data;
      if (!data || data.type !== "tcma:height" || data.token !== f.token) return;
      var height = Math.max(0, Math.min(MAX_HEIGHT, Math.ceil(Number(data.height) || 0)));
      f.frame.style.height = height + "px";
      if (f.fallback && height > 0) f.fallback.style.display = "none";
      return;
    }
  }

  TCMA.scan = function () {
    try {
      var scripts = document.querySelectorAll("script[data-tcma-widget]");
      for (var i = 0; i < scripts.length; i++) mount(scripts[i]);
    } catch (e) { /* the fallback link stays */ }
  };

  window.addEventListener("message", onMessage, false);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", TCMA.scan);
  }
  TCMA.scan();
})();
