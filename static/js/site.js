// Behaviour every page may use, declared in the templates with data attributes: the
// Content-Security-Policy allows no inline handler (onclick="…"), so it lives here.
(function () {
  "use strict";

  // The language switcher submits as soon as a language is picked; its button is for pages
  // that run no script (the buyer's page).
  function hideFallbackButtons() {
    document.querySelectorAll("[data-autosubmit-button]").forEach(function (button) {
      button.hidden = true;
    });
  }
  document.addEventListener("change", function (e) {
    const field = e.target.closest("[data-autosubmit]");
    if (field && field.form) field.form.submit();
  });

  // <form data-confirm="Question?">: ask before it is sent.
  document.addEventListener("submit", function (e) {
    const question = e.target.dataset.confirm;
    if (question && !window.confirm(question)) e.preventDefault();
  });

  // <button data-print>: the browser's print dialog (manifests, statements).
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-print]")) window.print();
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", hideFallbackButtons);
  } else {
    hideFallbackButtons();
  }
})();
