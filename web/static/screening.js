// Screening keys: i include, e exclude, m maybe, 1-9 pick an exclusion reason, u undo, ? help.
// Keys are ignored while typing in a field, and while a decision is still being sent.
(function () {
  "use strict";
  var LABELS = { i: "include", e: "exclude", m: "maybe" };

  // One request at a time, even if a key is held down. Kept here, not on the form: htmx's
  // settle step copies the old form's attributes (its htmx-request class, a data- flag) onto
  // the new form for a moment after each swap, which swallowed a key pressed just then.
  var sending = false;

  function submit(form, button) {
    if (!form || sending) return;
    sending = true;
    // A click (not requestSubmit) so htmx sends the clicked button's name and value.
    if (button) button.click(); else if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  // Acts on the record on the screen when it runs (after a swap has settled, see keys.js).
  function act(key) {
    var form = document.getElementById("decide-form");
    if (key === "?") {
      var help = document.getElementById("key-help");
      if (help) help.classList.toggle("shown");
    } else if (LABELS[key]) {
      if (form) submit(form, form.querySelector('button[value="' + LABELS[key] + '"]'));
    } else if (/^[1-9]$/.test(key)) {
      var select = form && form.querySelector("select[name=reason_id]");
      if (select && select.options.length > Number(key)) select.selectedIndex = Number(key);
    } else if (key === "u") {
      submit(document.getElementById("undo-form"));
    }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (window.sieveKeys.typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    var key = event.key;
    if (!(key === "?" || key === "u" || LABELS[key] || /^[1-9]$/.test(key))) return;
    event.preventDefault();
    window.sieveKeys.whenSettled(function () { act(key); });
  });

  // The answer is in (a new record, or a 422 re-rendering the same one): keys work again.
  document.addEventListener("htmx:afterRequest", function () {
    sending = false;
  });
})();
