// Import pages: drop files on the upload form, show upload progress, then poll the import's
// progress while the server stores the records. Without JavaScript the forms still work.
(function () {
  "use strict";

  function listFiles(zone, input) {
    var list = zone.querySelector("[data-chosen]");
    if (!list) return;
    list.textContent = "";
    Array.prototype.forEach.call(input.files, function (file) {
      var item = document.createElement("li");
      item.textContent = file.name + " (" + Math.ceil(file.size / 1024) + " KB)";
      list.appendChild(item);
    });
  }

  document.querySelectorAll("[data-dropzone]").forEach(function (zone) {
    var input = zone.querySelector("[data-files]");
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      input.files = event.dataTransfer.files;
      listFiles(zone, input);
    });
    input.addEventListener("change", function () { listFiles(zone, input); });
  });

  // Upload with a progress bar; the server's answer (preview page or form error) replaces this page.
  document.querySelectorAll("form[data-upload]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.FormData || !window.DOMParser) return;
      event.preventDefault();
      var bar = form.querySelector("[data-upload-progress]");
      var status = form.querySelector("[data-upload-status]");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) return;
        bar.hidden = false;
        bar.value = Math.round((100 * e.loaded) / e.total);
        status.textContent = "Uploading… " + bar.value + "%";
      });
      xhr.upload.addEventListener("load", function () {
        status.textContent = "Uploaded; reading the files…";
      });
      xhr.addEventListener("load", function () {
        if (xhr.status < 400 && xhr.responseURL && xhr.responseURL !== form.action) {
          window.location.assign(xhr.responseURL);
          return;
        }
        var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var main = page.querySelector("main");
        if (main) document.querySelector("main").replaceWith(main);
        else status.textContent = "Upload failed (" + xhr.status + ").";
      });
      xhr.addEventListener("error", function () { status.textContent = "Upload failed: no connection."; });
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      xhr.send(new FormData(form));
    });
  });

  // The import itself is a normal form post; meanwhile poll how many records are stored.
  document.querySelectorAll("form[data-import]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!event.submitter || event.submitter.value !== "import") return;
      var box = form.querySelector("[data-import-progress]");
      var bar = box.querySelector("progress");
      var status = box.querySelector("[data-import-status]");
      box.hidden = false;
      bar.removeAttribute("value");
      setInterval(function () {
        fetch(form.dataset.progressUrl, { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (s) {
            if (!s.total) return;
            bar.value = Math.round((100 * s.done) / s.total);
            status.textContent = "File " + s.file + " of " + s.files + ": " + s.done +
              " of " + s.total + " records stored";
          })
          .catch(function () {});
      }, 500);
    });
  });
})();
