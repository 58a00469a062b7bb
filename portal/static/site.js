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
    var summary = document.querySelector(".error-summary");
    if (summary && document.body.classList.contains("staff") && summary.getAttribute("data-count")) {
      var count = summary.getAttribute("data-count");  /* public pages put the count in the title themselves */
      var english = document.documentElement.lang.indexOf("en") === 0;
      document.title = (english ? count + (count === "1" ? " error · " : " errors · ") : count + "处错误 · ") + document.title;
    }
    var target = summary || document.querySelector(".flash");
    if (target) {
      if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.focus();
    }
  }

  /* Tables that turn into cards on a phone keep their column labels: each cell without one gets its header's. */
  function labelCells() {
    Array.prototype.forEach.call(document.querySelectorAll("table.queue"), function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (row) {
        Array.prototype.forEach.call(row.children, function (cell, i) {
          if (!cell.hasAttribute("data-label") && heads[i] && !cell.hasAttribute("colspan")) {
            cell.setAttribute("data-label", heads[i]);
          }
        });
      });
    });
  }

  /* A language link on a form page re-sends the form to the other language instead of dropping what was typed. */
  function setupResend() {
    Array.prototype.forEach.call(document.querySelectorAll("a[data-resend-form]"), function (link) {
      link.addEventListener("click", function (event) {
        var form = document.getElementById(link.getAttribute("data-resend-form"));
        if (!form) return;
        event.preventDefault();
        var go = document.createElement("input");
        go.type = "hidden";
        go.name = "go";
        go.value = link.getAttribute("data-go");
        form.appendChild(go);
        form.action = link.getAttribute("data-action");
        form.removeAttribute("enctype");  /* chosen files are not uploaded by a language switch */
        form.submit();
      });
    });
  }

  function meta(name) {
    var node = document.querySelector('meta[name="' + name + '"]');
    return node ? node.getAttribute("content") : "";
  }

  /* Staff: warn before the idle timeout ends the session, with a way to stay signed in. Typing counts: while the
     person types, the page tells the server it is still in use, so that the session does not run out under them. */
  function setupIdleWarning() {
    var idle = parseInt(meta("staff-idle-seconds"), 10);
    var box = document.getElementById("idle-warning");
    if (!idle || !box) return;
    var warnAfter = (idle > 300 ? idle - 120 : idle * 0.6) * 1000;
    var typed = false;
    var timer;
    function ping() {
      return fetch(meta("keep-alive"), {credentials: "same-origin", cache: "no-store"}).then(function (r) {
        if (r.ok) { box.hidden = true; arm(); }
      });
    }
    function arm() {
      clearTimeout(timer);
      typed = false;
      timer = setTimeout(function () {
        if (typed) { ping(); return; }
        box.hidden = false;
        document.getElementById("idle-stay").focus();
      }, warnAfter);
    }
    document.addEventListener("input", function () { typed = true; }, true);
    document.getElementById("idle-stay").addEventListener("click", ping);
    arm();
  }

  /* Staff: what is typed into a form is kept in this tab (sessionStorage) from the moment it is submitted. When the
     submit did not go through because the session had ended, the same form, opened again after signing in, is
     filled in again; when it went through, the copy is dropped. */
  var DRAFT = "draft:";
  function setupDrafts() {
    if (!document.body.classList.contains("staff") || !window.sessionStorage) return;
    var here = location.pathname;
    var onLogin = !!document.querySelector("form input[name=password]");
    Object.keys(sessionStorage).forEach(function (key) {
      if (key.indexOf(DRAFT) !== 0) return;
      var path = key.slice(DRAFT.length);
      if (path === here && !onLogin) {
        restore(JSON.parse(sessionStorage.getItem(key)));
        sessionStorage.removeItem(key);
      } else if (!onLogin && path !== here) {
        sessionStorage.removeItem(key);  /* the submit went through: the page moved on */
      }
    });
    Array.prototype.forEach.call(document.querySelectorAll("main form[method=post]"), function (form) {
      if (form.querySelector("input[name=password]")) return;
      form.addEventListener("submit", function () {
        var values = {};
        Array.prototype.forEach.call(form.elements, function (el) {
          if (!el.name || el.type === "hidden" || el.type === "file" || el.type === "password") return;
          if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
          if (el.tagName === "BUTTON" || el.type === "submit") return;
          (values[el.name] = values[el.name] || []).push(el.value);
        });
        try { sessionStorage.setItem(DRAFT + new URL(form.action || location.href, location.href).pathname, JSON.stringify(values)); } catch (e) { /* full */ }
      });
    });
  }
  function restore(values) {
    var restored = false;
    Object.keys(values).forEach(function (name) {
      var fields = document.getElementsByName(name);
      Array.prototype.forEach.call(fields, function (el) {
        if (el.type === "radio" || el.type === "checkbox") {
          if (values[name].indexOf(el.value) >= 0 && !el.checked) { el.checked = true; restored = true; }
        } else if (!el.value && values[name][0]) {
          el.value = values[name][0];
          restored = true;
        }
      });
    });
    var note = document.getElementById("draft-restored");
    if (restored && note) { note.hidden = false; }
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupIdleWarning();
    setupDrafts();
    labelCells();
    setupResend();
    setupTextSize();
    focusOutcome();
  });
})();
