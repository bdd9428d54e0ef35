// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  const root = document.documentElement;
  const saved = localStorage.getItem("memvault-theme");
  if (saved) root.dataset.theme = saved;

  document.addEventListener("DOMContentLoaded", function () {
    const toggle = document.getElementById("theme");
    if (toggle) {
      toggle.addEventListener("click", function () {
        const dark = root.dataset.theme ? root.dataset.theme === "dark"
          : window.matchMedia("(prefers-color-scheme: dark)").matches;
        root.dataset.theme = dark ? "light" : "dark";
        localStorage.setItem("memvault-theme", root.dataset.theme);
      });
    }
    // Forms that destroy something ask first.
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
    // Import with a progress bar.
    const form = document.getElementById("import");
    if (form && window.XMLHttpRequest) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        const bar = document.getElementById("import-progress");
        const status = document.getElementById("import-status");
        const xhr = new XMLHttpRequest();
        xhr.open("POST", form.action);
        xhr.setRequestHeader("Accept", "application/json");
        bar.hidden = false;
        xhr.upload.addEventListener("progress", function (e) {
          if (e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total);
        });
        xhr.addEventListener("load", function () {
          bar.value = 100;
          try {
            const report = JSON.parse(xhr.responseText);
            status.textContent = report.memories + " memories and " + report.profile_facts +
              " profile facts imported" + (report.skipped ? ", " + report.skipped + " already present" : "") + ".";
          } catch (err) {
            const doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
            const message = doc.querySelector(".problem p");
            status.textContent = message ? message.textContent : "The import failed.";
          }
        });
        xhr.addEventListener("error", function () { status.textContent = "The import failed: no answer from the server."; });
        xhr.send(new FormData(form));
      });
    }
  });
})();
