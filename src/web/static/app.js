// mailseal web interface: the little script it has. Pages work without it;
// it only shows times in the reader's time zone (UTC stays in the tooltip)
// and ticks every box of a result list at once.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var lang = document.documentElement.lang || "en";
  var fmt = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    var d = new Date(el.getAttribute("datetime"));
    if (!isNaN(d.getTime())) {
      el.textContent = fmt.format(d);
    }
  });
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("input.pick").forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }
});
