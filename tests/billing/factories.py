from __future__ import annotations

from decimal import Decimal

import factory

from billing.models import Plan


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    name = factory.Sequence(lambda n: f"Premium {n}")
    price = Decimal("50.00")
    currency = "EUR"
    duration_days = 365


BILLING = {
    "full_name": "Zoë Éléonore Dupré",
    "country": "FR",
    "vat_id": "",
    "address": "12 rue de l'Église",
    "city": "Besançon",
    "postal_code": "25000",
    "state": "",
    "phone": "+33 3 81 00 00 00",
}
