// The reject form: choosing a reason fills the explanation and the remedy with the bureau's standard texts,
// unless the clerk has already written something of their own there.
(function () {
  "use strict";
  var data = document.getElementById("standard-texts");
  var reason = document.getElementById("reason");
  if (!data || !reason) { return; }
  var texts = JSON.parse(data.textContent);
  var fields = ["explanation", "remedy"];
  var previous = reason.value;
  reason.addEventListener("change", function () {
    var before = texts[previous] || {};
    var after = texts[reason.value] || {};
    fields.forEach(function (name) {
      var box = document.getElementById(name);
      if (box && (box.value.trim() === "" || box.value === (before[name] || ""))) {
        box.value = after[name] || "";
      }
    });
    previous = reason.value;
  });
}());
