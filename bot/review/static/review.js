// modbot review: keyboard shortcuts and bulk selection. Served as a file: the CSP allows
// no inline script. Everything works without it (each entry has its own buttons).
(function () {
  "use strict";

  var current = -1;

  function entries() {
    return Array.prototype.slice.call(document.querySelectorAll("article.entry"));
  }

  function select(index, scroll) {
    var list = entries();
    if (!list.length) { return; }
    index = Math.max(0, Math.min(list.length - 1, index));
    if (current >= 0 && list[current]) { list[current].classList.remove("current"); }
    current = index;
    list[current].classList.add("current");
    if (scroll) { list[current].scrollIntoView({block: "nearest"}); }
  }

  function submit(action) {
    var entry = entries()[current];
    if (!entry) { return; }
    var button = entry.querySelector('form.actions button[name="action"][value="' + action + '"]');
    if (button) { button.form.requestSubmit(button); }
  }

  function typing(target) {
    if (!target || !target.tagName) { return false; }
    if (target.isContentEditable) { return true; }
    var tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") { return true; }
    return tag === "INPUT" && target.type !== "checkbox" && target.type !== "radio";
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var entry = entries()[current];
    switch (event.key) {
      case "j": select(current + 1, true); break;
      case "k": select(current - 1, true); break;
      case "c": submit("confirm"); break;
      case "r": submit("restore"); break;
      case "d": submit("dismiss"); break;
      case "x":
        if (entry) {
          var box = entry.querySelector("input.select");
          if (box) { box.checked = !box.checked; }
        }
        break;
      case "o":
      case "Enter":
        if (entry) { window.location.href = entry.querySelector("a.id").href; }
        break;
      default: return;
    }
    event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var entry = event.target.closest ? event.target.closest("article.entry") : null;
    if (entry) { select(entries().indexOf(entry), false); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll("input.select").forEach(function (box) { box.checked = all.checked; });
      });
    }
    var list = entries();
    var start = 0;
    if (window.location.hash) {
      var target = document.getElementById(window.location.hash.slice(1));
      if (target && list.indexOf(target) >= 0) { start = list.indexOf(target); }
    }
    select(start, start > 0);
  });
}());
