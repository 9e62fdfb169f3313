// Shared by the keyboard scripts (screening.js, dedup.js). htmx makes swapped-in controls live
// only when the swap settles, 20 ms after it: a key pressed in between would click a button htmx
// has not processed yet, which posts the plain form and reloads the whole page. Such a key waits
// for the settle and then acts on what is on the screen.
(function () {
  "use strict";
  var settling = false;
  var waiting = [];

  function settled() {
    settling = false;
    var run = waiting;
    waiting = [];
    run.forEach(function (fn) { fn(); });
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.shouldSwap) settling = true;
  });
  document.addEventListener("htmx:afterSettle", settled);
  document.addEventListener("htmx:swapError", settled);

  window.sieveKeys = {
    typing: function (target) {
      return !!target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    },
    whenSettled: function (fn) {
      if (settling) waiting.push(fn); else fn();
    }
  };
})();
