from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from mindomo import privacy

from . import services
from .models import Invoice, Order


@privacy.register
class BillingPrivacyProvider(privacy.PrivacyProvider):
    name = "billing"
    label = _("Purchases and invoices")
    legal_basis = _(
        "Contract (GDPR Art. 6(1)(b)): the plan the buyer pays for; legal obligation to keep invoices "
        "(Art. 6(1)(c), tax law)."
    )
    data_subjects = _("Adults who buy a plan.")
    recipients = ("Braintree (PayPal)", "2Checkout (Verifone)")
    erase_order = 50  # before the accounts provider deletes the user row

    def declarations(self) -> list[privacy.DataCategory]:
        return [
            privacy.DataCategory(
                model="billing.Order",
                fields=(
                    "full_name",
                    "country",
                    "vat_id",
                    "address",
                    "city",
                    "postal_code",
                    "state",
                    "phone",
                    "card_brand",
                    "card_last4",
                    "card_exp_month",
                    "card_exp_year",
                    "gateway_transaction_id",
                ),
                purpose=_(
                    "Process your purchase and prefill your next one. Card numbers and CVCs never reach "
                    "us: the payment provider keeps them; we keep the card brand, last 4 digits and expiry "
                    "month and year it returns."
                ),
                retention=_("Until you delete your account."),
            ),
            privacy.DataCategory(
                model="billing.Invoice",
                fields=(
                    "buyer_account_name",
                    "buyer_email",
                    "billing_full_name",
                    "billing_country",
                    "billing_vat_id",
                    "billing_address",
                    "billing_city",
                    "billing_postal_code",
                    "billing_state",
                    "billing_phone",
                    "lines",
                    "total",
                ),
                purpose=_("Tax law: every sale is invoiced and the invoice kept for tax preparation and audits."),
                retention=ngettext(
                    "%(years)s year after the end of the invoice's tax year, even after you delete your "
                    "account (GDPR Art. 17(3)(b)): the invoice is then detached from the account and "
                    "kept as issued, and deleted when that period ends.",
                    "%(years)s years after the end of the invoice's tax year, even after you delete your "
                    "account (GDPR Art. 17(3)(b)): the invoice is then detached from the account and "
                    "kept as issued, and deleted when that period ends.",
                    settings.INVOICE_RETENTION_YEARS,
                )
                % {"years": settings.INVOICE_RETENTION_YEARS},
            ),
        ]

    def export(self, user: Any) -> dict[str, Any]:
        return {
            "orders": [
                {
                    "reference": str(o.reference),
                    "plan": o.plan.name,
                    "status": o.status,
                    "created_at": o.created_at.isoformat(),
                    "full_name": o.full_name,
                    "country": str(o.country),
                    "vat_id": o.vat_id,
                    "address": o.address,
                    "city": o.city,
                    "postal_code": o.postal_code,
                    "state": o.state,
                    "phone": o.phone,
                    "total": str(o.total),
                    "currency": o.currency,
                    "card_brand": o.card_brand,
                    "card_last4": o.card_last4,
                }
                for o in Order.objects.filter(user=user).select_related("plan").order_by("pk")
            ],
            "invoices": [
                {
                    "number": i.number,
                    "kind": i.kind,
                    "issued_at": i.issued_at.isoformat(),
                    "total": str(i.total),
                    "currency": i.currency,
                    "billing_full_name": i.billing_full_name,
                }
                for i in Invoice.objects.filter(user=user).order_by("pk")
            ],
        }

    def summary(self, user: Any) -> dict[str, Any]:
        return {
            "orders": privacy.Count(Order.objects.filter(user_id=user.pk)),
            "invoices": privacy.Count(Invoice.objects.filter(user_id=user.pk)),
        }

    def erase_statements(self, user: Any) -> list[privacy.ErasePart]:
        return services.billing_user_erase_statements(user=user)

    def retention_rules(self) -> list[privacy.RetentionRule]:
        return [
            privacy.RetentionRule(
                name="billing.invoices",
                description=_("Invoices and credit notes, kept for tax even after an account is deleted"),
                period=ngettext(
                    "deleted %(years)d year after the end of their tax year",
                    "deleted %(years)d years after the end of their tax year",
                    settings.INVOICE_RETENTION_YEARS,
                )
                % {"years": settings.INVOICE_RETENTION_YEARS},
                expired=services.invoices_expired,
                key=services.PURGE_KEY,
                returning=services.PURGE_RETURNING,
                after_delete=services.invoices_purged,
                bare=True,  # invoices_purged detaches the credit notes of the deleted invoices
            )
        ]
