// A pending order's page (a PromptPay QR code, or a bank confirming a card): asks the shop
// (never Omise) every few seconds whether the payment has landed; when the order is no longer
// pending it reloads, and the server renders the outcome (paid, failed, expired). On the
// PromptPay page it also counts down to the QR code's expiry. (Not a timed <meta> refresh:
// WCAG 2.2.1 lets no page reload itself on a timer the shopper cannot stop.)
(function () {
  "use strict";
  const box = document.querySelector("[data-status-url]");
  if (!box) return;
  const POLL_MS = 3000;
  const statusUrl = box.dataset.statusUrl;
  const expiresAt = Date.parse(box.dataset.expiresAt);
  const countdown = document.getElementById("promptpay-countdown");

  function pad(n) { return String(n).padStart(2, "0"); }

  function showRemaining() {
    if (!countdown || Number.isNaN(expiresAt)) return;
    const seconds = Math.max(0, Math.floor((expiresAt - Date.now()) / 1000));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    countdown.textContent = (h ? h + ":" + pad(m) : String(m)) + ":" + pad(s);
  }

  let busy = false;
  function poll() {
    if (busy) return;
    busy = true;
    fetch(statusUrl, {credentials: "same-origin", cache: "no-store",
                      headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && body.status && body.status !== "pending") window.location.reload();
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .finally(function () { busy = false; });
  }

  showRemaining();
  setInterval(showRemaining, 1000);
  setInterval(poll, POLL_MS);
})();
