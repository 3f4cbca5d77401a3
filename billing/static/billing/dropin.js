// Braintree's Drop-in UI: the card is typed into Braintree's iframes; only the nonce is posted to us.
(function () {
  "use strict";
  var container = document.getElementById("dropin-container");
  var form = document.getElementById("braintree-form");
  if (!container || !form || !window.braintree) { return; }
  var nonceField = form.querySelector("input[name=payment_method_nonce]");
  window.braintree.dropin.create(
    {authorization: container.dataset.clientToken, container: "#dropin-container", locale: container.dataset.locale},
    function (createError, instance) {
      if (createError) { container.textContent = container.dataset.unavailable; return; }
      form.addEventListener("submit", function (event) {
        if (nonceField.value) { return; }
        event.preventDefault();
        instance.requestPaymentMethod(function (error, payload) {
          if (error) { return; }
          nonceField.value = payload.nonce;
          form.submit();
        });
      });
    }
  );
})();
