// Keyboard shortcuts of the duplicate review queue: d duplicate, n not duplicate,
// u undo the last decision, j next pair, k previous pair. Keys typed into a field are left
// alone. Each key clicks the visible control, so htmx (or a plain form post) does the work.
(function () {
  "use strict";
  var keys = {
    d: "#btn-duplicate",
    n: "#btn-distinct",
    u: "button.undo-last",
    j: "#next-pair",
    k: "#prev-pair"
  };
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (window.sieveKeys.typing(event.target)) { return; }
    var selector = keys[event.key];
    if (!selector) { return; }
    event.preventDefault();
    window.sieveKeys.whenSettled(function () {
      var control = document.querySelector("#queue-panel " + selector);
      if (control) { control.click(); }
    });
  });
})();
