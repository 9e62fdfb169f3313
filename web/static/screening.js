// Screening keys: i include, e exclude, m maybe, 1-9 pick an exclusion reason, u undo, ? help.
// Keys are ignored while typing in a field, and while a decision is still being sent.
(function () {
  "use strict";
  var LABELS = { i: "include", e: "exclude", m: "maybe" };

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

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

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    var form = document.getElementById("decide-form");
    var key = event.key;
    if (key === "?") {
      var help = document.getElementById("key-help");
      if (help) help.classList.toggle("shown");
    } else if (LABELS[key] && form) {
      submit(form, form.querySelector('button[value="' + LABELS[key] + '"]'));
    } else if (/^[1-9]$/.test(key) && form) {
      var select = form.querySelector("select[name=reason_id]");
      if (select && select.options.length > Number(key)) select.selectedIndex = Number(key);
    } else if (key === "u") {
      submit(document.getElementById("undo-form"));
    } else {
      return;
    }
    event.preventDefault();
  });

  // The answer is in (a new record, or a 422 re-rendering the same one): keys work again.
  document.addEventListener("htmx:afterRequest", function () {
    sending = false;
  });
})();
