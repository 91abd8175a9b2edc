// Small enhancements of our own. Every page works without this file: forms post and
// redirect, filters submit with their button.
(function () {
  "use strict";

  // After htmx replaces part of a page, put the keyboard focus where the reader expects
  // it (a refusal, the new comment, the results heading) instead of losing it on <body>.
  document.addEventListener("htmx:afterSettle", function (event) {
    var root = event.detail && event.detail.target;
    if (!root || !root.querySelector) return;
    // An outerHTML swap replaced the target: look in the element that took its place.
    if (!root.isConnected && root.id) root = document.getElementById(root.id) || root;
    var next = root.querySelector("[data-focus-after-swap]");
    if (next) {
      if (!next.hasAttribute("tabindex")) next.setAttribute("tabindex", "-1");
      next.focus();
    }
  });

  // The account menu is a <details>: close it with Escape or a click elsewhere.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.account__menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.account__menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
})();

// A search box inside a bigger form (the change editor's ticket search): Enter runs the
// search in place instead of submitting the whole form.
document.addEventListener("keydown", function (event) {
  var input = event.target;
  if (event.key !== "Enter" || !input.dataset || !input.dataset.enterClicks) return;
  event.preventDefault();
  if (window.htmx) {
    window.htmx.trigger(input, "search");
  } else {
    var button = document.getElementById(input.dataset.enterClicks);
    if (button) button.click();
  }
});
