// Checkout: open Omise's pre-built form and post only what it returns: a one-time card token
// (tokn_…) or, for PromptPay or a bank, a source (src_…). Card fields live in Omise's frame;
// this page never sees them.
(function () {
  "use strict";
  const form = document.getElementById("checkout-form");
  const payButton = document.getElementById("pay-button");
  if (!form || !window.OmiseCard) {
    if (payButton) {
      payButton.disabled = true;
      payButton.textContent = form ? form.dataset.unavailable : "";
    }
    return;
  }
  const amount = Number(form.dataset.amount);
  const currency = form.dataset.currency;

  OmiseCard.configure({
    publicKey: form.dataset.publicKey,
    currency: currency,
    frameLabel: form.dataset.shopName,
    submitLabel: form.dataset.submitLabel,
    defaultPaymentMethod: "credit_card",
    otherPaymentMethods: (form.dataset.otherPaymentMethods || "").split(",").filter(Boolean),
    locale: form.dataset.locale || "en", // the shopper's language (Omise's form: en, th, ja)
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (payButton.disabled) return; // a double click opens one form, posts one token
    if (!form.reportValidity()) return;
    payButton.disabled = true;
    OmiseCard.open({
      amount: amount,
      currency: currency,
      onCreateTokenSuccess: function (id) {
        const field = id.startsWith("src_") ? "omise_source" : "omise_token";
        form.elements[field].value = id;
        form.submit(); // does not fire "submit" again
      },
      onFormClosed: function () {
        payButton.disabled = false;
        payButton.focus(); // closed (Escape, ×): a keyboard shopper is back where they were
      },
    });
  });
})();
