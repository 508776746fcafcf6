/*
 * Omise.js stand-in for the offline sandbox: the calls this shop uses, same names and
 * callbacks as https://cdn.omise.co/omise.js.
 *   Omise.setPublicKey(pkey); Omise.createToken('card', fields, (status, response) => ...)
 *   Omise.createSource('promptpay', {amount, currency}, (status, response) => ...)
 *   OmiseCard.configure({publicKey, currency, frameLabel, submitLabel,
 *                        otherPaymentMethods: ['promptpay', 'mobile_banking_kbank', 'truemoney',
 *                                              'installment', ...], ...});
 *   OmiseCard.open({amount, currency, onCreateTokenSuccess(tokenOrSourceId), onFormClosed()})
 * The form lives in a frame of the sandbox's origin; token and source ids come back by
 * postMessage, accepted only from that origin and that frame.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = new URL(".", script.src);          // .../sandbox/
  var SANDBOX_ORIGIN = base.origin;
  var VAULT_TOKENS = new URL("vault/tokens", base).href;
  var SOURCES = new URL("api/sources", base).href;   // public key, like Omise's /sources
  var CARD_FRAME = new URL("card-frame/", base).href;

  var publicKey = null;

  function post(url, payload, callback) {
    fetch(url, {
      method: "POST",
      headers: {"Authorization": "Basic " + btoa(publicKey + ":"),
                "Content-Type": "application/json"},
      body: JSON.stringify(payload),
      credentials: "omit"
    }).then(function (response) {
      return response.json().then(function (body) { callback(response.status, body); });
    }).catch(function () {
      callback(0, {object: "error", code: "network_error",
                   message: "could not reach Omise"});
    });
  }

  function createToken(type, data, callback) {
    if (type !== "card") {
      callback(400, {object: "error", code: "bad_request",
                     message: "the sandbox's Omise.js creates card tokens only"});
      return;
    }
    post(VAULT_TOKENS, {card: data}, callback);
  }

  // A source for another payment method; `data` carries at least amount and currency.
  function createSource(type, data, callback) {
    post(SOURCES, Object.assign({}, data || {}, {type: type}), callback);
  }

  window.Omise = {
    setPublicKey: function (key) { publicKey = key; },
    createToken: createToken,
    createSource: createSource
  };

  var config = {};
  var current = null;   // {overlay, frame, options, listener, opener}

  function close(notify) {
    if (!current) return;
    var state = current;
    current = null;
    window.removeEventListener("message", state.listener);
    document.removeEventListener("keydown", state.onKey);
    state.overlay.remove();
    if (state.opener && state.opener.focus) state.opener.focus();
    if (notify && typeof state.options.onFormClosed === "function") state.options.onFormClosed();
  }

  function open(options) {
    close(false);
    var settings = Object.assign({}, config, options || {});
    var query = new URLSearchParams({
      key: settings.publicKey || publicKey || "",
      amount: String(settings.amount || ""),
      currency: settings.currency || "thb",
      frameLabel: settings.frameLabel || "",
      submitLabel: settings.submitLabel || "",
      otherPaymentMethods: (settings.otherPaymentMethods || []).join(","),
      locale: settings.locale || "en"
    });
    var overlay = document.createElement("div");
    overlay.className = "omise-sandbox-overlay";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-label", settings.frameLabel || "Card payment");
    // CSSOM assignments, not style attributes: allowed under a strict style-src.
    Object.assign(overlay.style, {position: "fixed", inset: "0", zIndex: "2147483647",
      background: "rgba(0,0,0,0.55)", display: "flex", alignItems: "center",
      justifyContent: "center"});
    var frame = document.createElement("iframe");
    frame.src = CARD_FRAME + "?" + query.toString();
    frame.title = "Omise card form";
    frame.name = "omise-card-frame";
    Object.assign(frame.style, {width: "min(420px, 96vw)", height: "min(660px, 96vh)",
      border: "0", borderRadius: "8px", background: "#fff"});
    overlay.appendChild(frame);

    var listener = function (event) {
      if (event.origin !== SANDBOX_ORIGIN || event.source !== frame.contentWindow) return;
      var message = event.data || {};
      if (message.type === "omise:token") {
        var callback = settings.onCreateTokenSuccess;
        close(false);
        if (typeof callback === "function") callback(message.token);
      } else if (message.type === "omise:close") {
        close(true);
      }
    };
    var onKey = function (event) { if (event.key === "Escape") close(true); };
    current = {overlay: overlay, frame: frame, options: settings, listener: listener,
               onKey: onKey, opener: document.activeElement};
    window.addEventListener("message", listener);
    document.addEventListener("keydown", onKey);
    document.body.appendChild(overlay);
    // Hand the focus to the form, unless the shopper is already in it: focusing a frame
    // that holds the focus would move it off the field they are typing in.
    frame.addEventListener("load", function () {
      if (document.activeElement !== frame) frame.focus();
    });
  }

  window.OmiseCard = {
    configure: function (options) {
      config = Object.assign({}, config, options || {});
      if (config.publicKey) publicKey = config.publicKey;
    },
    open: open,
    close: function () { close(true); }
  };
})();
