/* The little JavaScript of both sites. Everything here improves a page that works without it. */
(function () {
  "use strict";
  var YEAR = 365 * 24 * 3600;

  /* Large text (适老化): switch at once, keep what was typed, remember the choice in a cookie the server reads. */
  function setupTextSize() {
    var links = document.querySelectorAll("a.text-size");
    Array.prototype.forEach.call(links, function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var root = document.documentElement;
        var large = !root.classList.contains("large-text");
        root.classList.toggle("large-text", large);
        document.cookie = "text_size=" + (large ? "large" : "normal") + "; path=/; max-age=" + YEAR + "; SameSite=Lax";
        Array.prototype.forEach.call(links, function (other) {
          other.setAttribute("aria-pressed", large ? "true" : "false");
          other.textContent = large ? other.getAttribute("data-on") : other.getAttribute("data-off");
          other.href = other.href.replace(/large=[01]/, "large=" + (large ? "0" : "1"));
        });
      });
    });
  }

  /* After a submit, take the reader to what happened: the error summary first, else the message of success. */
  function focusOutcome() {
    var target = document.querySelector(".error-summary") || document.querySelector(".flash");
    if (target) {
      if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.focus();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupTextSize();
    focusOutcome();
  });
})();
