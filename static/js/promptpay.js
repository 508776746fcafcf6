// A pending order's page (a PromptPay QR code, a bank's app, or a bank confirming a card): asks
// the shop (never Omise) every few seconds whether the payment has landed; when the order is no
// longer pending it reloads, and the server renders the outcome (paid, failed, expired). On the
// PromptPay page it also counts down to the QR code's expiry and, on a phone, offers to share
// the QR code image (saving it is a plain link). (Not a timed <meta> refresh: WCAG 2.2.1 lets
// no page reload itself on a timer the shopper cannot stop.)
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

  // On a phone: share the QR code image's address (to another app, or to whoever pays) where
  // the browser can; saving the image needs no script (a link with `download`).
  const share = document.getElementById("promptpay-share");
  const download = document.getElementById("promptpay-download");
  if (share && download && navigator.share) {
    share.hidden = false;
    share.addEventListener("click", function () {
      navigator.share({title: share.dataset.shareTitle, text: share.dataset.shareText,
                       url: download.href})
        .catch(function () { /* the shopper closed the share sheet */ });
    });
  }

  showRemaining();
  setInterval(showRemaining, 1000);
  setInterval(poll, POLL_MS);
})();
