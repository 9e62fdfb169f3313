// Shared by the keyboard scripts (screening.js, dedup.js). htmx makes swapped-in controls live
// only when the swap settles, 20 ms after it: a key pressed in between would click a button htmx
// has not processed yet, which posts the plain form and reloads the whole page. Such a key waits
// until nothing on the page is settling any more and then acts on what is on the screen.
// (The page state is read, not counted from events: several swaps may settle at once, such as
// the next record and the ranking-freshness fragment.)
(function () {
  "use strict";
  var waiting = [];

  function settling() {
    var c = htmx.config;
    return document.querySelector("." + c.addedClass + ", ." + c.settlingClass + ", ." +
                                  c.swappingClass) !== null;
  }

  document.addEventListener("htmx:afterSettle", function () {
    if (!waiting.length || settling()) return;
    var run = waiting;
    waiting = [];
    run.forEach(function (fn) { fn(); });
  });

  window.sieveKeys = {
    typing: function (target) {
      return !!target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
    },
    whenSettled: function (fn) {
      if (settling()) waiting.push(fn); else fn();
    }
  };
})();
