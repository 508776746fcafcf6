/* The sandbox's pre-built form (in a frame of the sandbox's origin): validates nothing
 * itself, asks the vault for a card token, or /sources for a source when another method
 * (PromptPay, a bank) is picked, with the public key; shows Omise's errors, and hands the
 * token or source id to the shop's page only (postMessage with the shop's exact origin). */
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  var errorBox = document.getElementById("error");
  var submit = document.getElementById("submit");
  var parentOrigin = form.dataset.parentOrigin;

  function tell(message) { window.parent.postMessage(message, parentOrigin); }

  function fields() {
    var expiry = form.expiry.value.replace(/\s/g, "").split("/");
    return {
      number: form.number.value.replace(/[\s-]/g, ""),
      name: form.name.value.trim(),
      expiration_month: expiry[0] || "",
      expiration_year: expiry[1] || "",
      security_code: form.security_code.value.trim()
    };
  }

  var cardFields = document.getElementById("card-fields");
  var otherNote = document.getElementById("other-method-note");

  function method() {
    var checked = form.querySelector('input[name="method"]:checked');
    return checked ? checked.value : "card";
  }

  var trueMoneyFields = document.getElementById("truemoney-fields");
  var installmentFields = document.getElementById("installment-fields");

  form.addEventListener("change", function (event) {
    if (event.target.name !== "method") return;
    cardFields.hidden = method() !== "card";
    otherNote.hidden = method() === "card";
    trueMoneyFields.hidden = method() !== "truemoney";
    if (installmentFields) installmentFields.hidden = method() !== "installment";
  });

  // The source of another method: its type, the shop's amount, and the method's own fields
  // (TrueMoney's phone number; an installment plan's issuer and months).
  function sourceBody() {
    var body = {type: method(), amount: Number(form.dataset.amount),
                currency: form.dataset.currency};
    if (body.type === "truemoney") body.phone_number = form.phone_number.value.trim();
    if (body.type === "installment") {
      var plan = form.installment_plan.value.split(":");
      body.type = plan[0];
      body.installment_term = Number(plan[1]);
    }
    return body;
  }

  // A card gives a token from the vault; another method a source for the shop's amount.
  function request() {
    var card = method() === "card";
    return {
      url: card ? form.dataset.vaultUrl : form.dataset.sourcesUrl,
      body: card ? {card: fields()} : sourceBody(),
      expected: card ? "token" : "source"
    };
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorBox.textContent = "";
    submit.disabled = true;
    var call = request();
    fetch(call.url, {
      method: "POST",
      headers: {"Authorization": "Basic " + btoa(form.dataset.publicKey + ":"),
                "Content-Type": "application/json"},
      body: JSON.stringify(call.body)
    }).then(function (response) {
      return response.json().then(function (body) {
        if (response.ok && body.object === call.expected) {
          form.reset();  // nothing of the card stays in the frame
          tell({type: "omise:token", token: body.id});
        } else {
          errorBox.textContent = body.message || (call.expected === "token"
            ? form.dataset.cardRefused : form.dataset.methodUnavailable);
          if (call.expected === "token") form.number.focus();
        }
      });
    }).catch(function () {
      errorBox.textContent = form.dataset.unreachable;
    }).finally(function () { submit.disabled = false; });
  });

  var closeButton = document.getElementById("close");
  closeButton.addEventListener("click", function () {
    tell({type: "omise:close"});
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") tell({type: "omise:close"});
  });
  // The buttons are rendered disabled: a click before this script ran would do nothing
  // (Close) or submit the card natively to the frame's own URL (Pay).
  closeButton.disabled = false;
  submit.disabled = false;
  // Start at the card number, unless the shopper is already typing in a field of the form
  // (it was on screen before this script ran).
  if (!form.contains(document.activeElement)) form.number.focus();
})();
