/* The sandbox's card form (in a frame of the sandbox's origin): validates nothing itself,
 * asks the vault for a token with the public key, shows the vault's errors, and hands the
 * token id to the shop's page only (postMessage with the shop's exact origin). */
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

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorBox.textContent = "";
    submit.disabled = true;
    fetch(form.dataset.vaultUrl, {
      method: "POST",
      headers: {"Authorization": "Basic " + btoa(form.dataset.publicKey + ":"),
                "Content-Type": "application/json"},
      body: JSON.stringify({card: fields()})
    }).then(function (response) {
      return response.json().then(function (body) {
        if (response.ok && body.object === "token") {
          form.reset();  // nothing of the card stays in the frame
          tell({type: "omise:token", token: body.id});
        } else {
          errorBox.textContent = body.message || "The card was not accepted.";
          form.number.focus();
        }
      });
    }).catch(function () {
      errorBox.textContent = "Could not reach Omise. Check your connection and try again.";
    }).finally(function () { submit.disabled = false; });
  });

  document.getElementById("close").addEventListener("click", function () {
    tell({type: "omise:close"});
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") tell({type: "omise:close"});
  });
  form.number.focus();
})();
