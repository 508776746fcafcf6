/* The try-out page: OmiseCard as a checkout would use it, result shown on the page. */
(function () {
  "use strict";
  var root = document.getElementById("try");
  OmiseCard.configure({publicKey: root.dataset.publicKey, currency: "THB",
                       frameLabel: "Lanna Goods"});
  document.getElementById("pay").addEventListener("click", function () {
    OmiseCard.open({
      amount: Number(root.dataset.amount),
      currency: "THB",
      onCreateTokenSuccess: function (token) {
        document.getElementById("result").textContent = token;
      },
      onFormClosed: function () {
        document.getElementById("closed").textContent = "yes";
      }
    });
  });
})();
