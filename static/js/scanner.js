// The counter's scan input: USB scanners (they type, then press Enter), the phone camera, and
// keeping focus so the next scan can follow at once, without losing keys typed mid-request.
(function () {
  "use strict";
  const wasmUrl = document.currentScript && document.currentScript.dataset.wasm;
  let detector = null;
  let stream = null;
  let timer = null;

  function scanInput(root) {
    return (root || document).querySelector(".scan-form input[type=text]");
  }

  function focusInput() {
    const input = scanInput();
    if (input && document.activeElement !== input) {
      input.focus();
      input.select();
    }
  }

  // --- scans that arrive while a request is on its way: queue them (one per Enter) and send
  // them one after another once the page has updated, so none is merged or lost.
  let inFlight = false;
  let typing = "";
  const queue = [];

  function nextFromQueue(submit) {
    const input = scanInput();
    if (!input) return;
    if (queue.length) {
      input.value = queue.shift();
      if (submit) input.form.requestSubmit();
    } else if (typing) {
      input.value = typing;
      typing = "";
    }
  }

  document.addEventListener("htmx:beforeRequest", function () { inFlight = true; });
  document.addEventListener("htmx:afterSettle", function () {
    inFlight = false;
    bindCameraButtons();
    focusInput();
    nextFromQueue(true);
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (!e.detail.successful) {
      // Nothing was swapped: put the next waiting scan back into the input, unsent.
      inFlight = false;
      nextFromQueue(false);
    }
  });
  document.addEventListener("keydown", function (e) {
    if (!inFlight || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "Enter") {
      if (typing) queue.push(typing);
      typing = "";
      e.preventDefault();
    } else if (e.key.length === 1) {
      typing += e.key;
      e.preventDefault();
    }
  }, true);

  // --- the camera -------------------------------------------------------------------------------
  function canUseCamera() {
    return window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia
      && window.BarcodeDetectionAPI;
  }

  function getDetector() {
    if (!detector) {
      const api = window.BarcodeDetectionAPI;
      // Load the decoder's wasm from our own static files, never from a CDN.
      api.prepareZXingModule({
        overrides: {
          locateFile: function (path, prefix) { return path.endsWith(".wasm") ? wasmUrl : prefix + path; },
        },
      });
      detector = new api.BarcodeDetector({ formats: ["qr_code", "code_128", "code_39", "ean_13", "data_matrix"] });
    }
    return detector;
  }

  function stopCamera() {
    if (timer) { clearInterval(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    document.querySelectorAll("[data-camera]").forEach(function (el) { el.hidden = true; });
  }

  async function startCamera() {
    const box = document.querySelector("[data-camera]");
    const video = box.querySelector("video");
    box.hidden = false;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (err) {
      box.hidden = true;
      alert(err.message);
      return;
    }
    video.srcObject = stream;
    await video.play();
    const found = getDetector();
    timer = setInterval(async function () {
      if (video.readyState < 2) return;
      let codes = [];
      try { codes = await found.detect(video); } catch (err) { return; }
      if (codes.length) {
        const input = scanInput();
        stopCamera();
        if (navigator.vibrate) navigator.vibrate(80);
        input.value = codes[0].rawValue;
        input.form.requestSubmit();
      }
    }, 250);
  }

  function bindCameraButtons() {
    if (!canUseCamera()) return;
    document.querySelectorAll("[data-scan-camera]").forEach(function (button) {
      button.hidden = false;
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", startCamera);
    });
    document.querySelectorAll("[data-camera-close]").forEach(function (button) {
      if (button.dataset.bound) return;
      button.dataset.bound = "1";
      button.addEventListener("click", stopCamera);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { bindCameraButtons(); focusInput(); });
  if (document.readyState !== "loading") { bindCameraButtons(); focusInput(); }
})();
