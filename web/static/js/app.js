/* Progressive enhancement only; every feature has a no-JavaScript path in the HTML:
   location on request, in-place display preferences, print button, clean htmx URLs. */
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function each(selector, fn) { Array.prototype.forEach.call(document.querySelectorAll(selector), fn); }

  function reveal() {
    each(".js-only[hidden]", function (el) {
      if (el.id === "geo-button" && !("geolocation" in navigator)) { return; }
      el.hidden = false;
    });
  }

  function useLocation(button) {
    var select = document.getElementById(button.getAttribute("data-target") || "near");
    var status = $("#geo-status");
    if (!select) { return; }
    status.textContent = "正在获取你的位置…";
    navigator.geolocation.getCurrentPosition(function (pos) {
      var value = pos.coords.latitude.toFixed(3) + "," + pos.coords.longitude.toFixed(3);
      var option = select.querySelector("option[data-geo]");
      if (!option) {
        option = document.createElement("option");
        option.setAttribute("data-geo", "1");
        select.insertBefore(option, select.children[1] || null);
      }
      option.value = value;
      option.textContent = "我的位置（已定位）";
      select.value = value;
      status.textContent = "已使用你的位置，会先列出离你近的大厅。";
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }, function () {
      status.textContent = "没有获取到位置。可以在列表里选择你所在的县（市、区）或乡镇（街道）。";
    }, { enableHighAccuracy: false, timeout: 10000, maximumAge: 300000 });
  }

  var PREF_TEXT = {
    large: ["大字模式", "标准字号", "text=large", "text=normal"],
    contrast: ["高对比度", "标准配色", "contrast=high", "contrast=normal"]
  };

  function togglePref(link) {
    var name = link.getAttribute("data-pref");
    var words = PREF_TEXT[name];
    if (!words || !window.fetch) { return false; }
    var on = link.getAttribute("data-on") === "1";
    fetch(link.href, { credentials: "same-origin", redirect: "manual" }).then(function () {
      document.documentElement.classList.toggle("pref-" + name, !on);
      link.setAttribute("data-on", on ? "0" : "1");
      link.textContent = on ? words[0] : words[1];
      link.href = link.href.replace(on ? words[3] : words[2], on ? words[2] : words[3]);
    }, function () { window.location.href = link.href; });
    return true;
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("a[data-pref], #geo-button, #print-button") : null;
    if (!target) { return; }
    if (target.id === "geo-button") { useLocation(target); return; }
    if (target.id === "print-button") { window.print(); return; }
    if (togglePref(target)) { event.preventDefault(); }
  });

  // Leave empty fields out of htmx GET requests, so the pushed URL stays short and shareable.
  document.addEventListener("htmx:configRequest", function (event) {
    var data = event.detail.formData;
    if (!data || event.detail.verb !== "get") { return; }
    Array.from(data.keys()).forEach(function (key) {
      if (data.getAll(key).every(function (value) { return value === ""; })) { data.delete(key); }
    });
  });

  // After 查询 (a form submitted, not typing in the box): bring the answer into view and move focus
  // to the results summary, so a screen reader announces it and a phone shows it on screen.
  document.addEventListener("htmx:afterSettle", function (event) {
    var source = event.detail && event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!source || source.tagName !== "FORM" || !event.detail.target || event.detail.target.id !== "results") { return; }
    var summary = document.getElementById("search-status");
    if (!summary || !summary.textContent) { return; }
    summary.scrollIntoView({ block: "start" });
    summary.focus({ preventScroll: true });
  });

  document.addEventListener("htmx:afterSettle", reveal);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", reveal);
  } else {
    reveal();
  }
})();
