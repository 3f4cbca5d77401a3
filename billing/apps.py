from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        # Imports here: models are loaded only once the app registry is ready.
        from consent import hooks as consent_hooks

        from . import services

        # The parent portal's card check (a stronger consent method) is a zero-amount Braintree verification.
        consent_hooks.card_verify.register(services.card_verify)
        consent_hooks.card_charge.register(services.card_charge_refunded)
        consent_hooks.card_check_client_token.register(services.card_check_client_token)

        # Invoices in bulk (a zip of PDFs), prepared off the request (mindomo.downloads)
        from . import downloads

        downloads.register()

        # The main menu: plans for adults who may buy, invoices for those who bought.
        from mindomo.navigation import registry as navigation

        from . import navigation as menu

        navigation.fact("may_buy", menu.may_buy)
        navigation.fact("has_orders", menu.has_orders)
        navigation.items(menu.menu_items)
