// Fill the latitude and longitude fields from the device's location, where the browser allows it.
(function () {
  const button = document.getElementById("use-location");
  const status = document.getElementById("location-status");
  if (!button || !("geolocation" in navigator)) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = button.dataset.waiting || "…";
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        document.getElementById("id_latitude").value = pos.coords.latitude.toFixed(6);
        document.getElementById("id_longitude").value = pos.coords.longitude.toFixed(6);
        status.textContent = "✓";
      },
      function (err) { status.textContent = err.message; },
      { enableHighAccuracy: true, timeout: 10000 }
    );
  });
})();
