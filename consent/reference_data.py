"""The starting age rules and third-party registry, loaded by a data migration (and by tests, whose
transactional flushes empty the tables). Privacy staff edit them in the admin afterwards."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils.translation import gettext_noop

from .models import AgeRule, ThirdParty

GDPR = "GDPR Art. 8"
TRACKER = "Bird & Bird GDPR tracker; European Commission 2020 review; Moodle agedigitalconsentmap"
DISPUTED = "sources disagree; legal review needed"

# (country, subdivision, age, legal source, took effect, needs legal review)
AGE_RULES: list[tuple[str, str, int, str, datetime.date, bool]] = [
    ("US", "", 13, "COPPA, 15 U.S.C. 6501-6506; 16 CFR 312", datetime.date(2000, 4, 21), False),
    ("GB", "", 13, "UK GDPR Art. 8 and Data Protection Act 2018 s.9 (ICO)", datetime.date(2018, 5, 25), False),
    ("BE", "", 13, f"{GDPR}; Belgian law of 30 July 2018 art. 7 ({TRACKER})", datetime.date(2018, 9, 5), False),
    ("DK", "", 13, f"{GDPR}; Danish Data Protection Act s.6 ({TRACKER})", datetime.date(2018, 5, 25), False),
    ("EE", "", 13, f"{GDPR}; Estonian Personal Data Protection Act s.8 ({TRACKER})", datetime.date(2019, 1, 15), False),
    ("FI", "", 13, f"{GDPR}; Finnish Data Protection Act s.5 ({TRACKER})", datetime.date(2019, 1, 1), False),
    ("LV", "", 13, f"{GDPR}; Latvian Personal Data Processing Law s.33 ({TRACKER})", datetime.date(2018, 7, 5), False),
    ("MT", "", 13, f"{GDPR}; Maltese Data Protection Act, S.L. 586.11 ({TRACKER})", datetime.date(2018, 5, 28), False),
    ("NO", "", 13, "Norwegian Personal Data Act s.5 (GDPR Art. 8 via EEA)", datetime.date(2018, 7, 20), False),
    (
        "SE",
        "",
        13,
        f"{GDPR}; Swedish Data Protection Act 2018:218 ch.2 s.4 ({TRACKER})",
        datetime.date(2018, 5, 25),
        False,
    ),
    ("PT", "", 13, f"{GDPR}; Portuguese Law 58/2019 art. 16 ({TRACKER}); {DISPUTED}", datetime.date(2019, 8, 9), True),
    ("AT", "", 14, f"{GDPR}; Austrian Data Protection Act s.4(4) ({TRACKER})", datetime.date(2018, 5, 25), False),
    (
        "BG",
        "",
        14,
        f"{GDPR}; Bulgarian Personal Data Protection Act art. 25c ({TRACKER})",
        datetime.date(2019, 3, 2),
        False,
    ),
    ("CY", "", 14, f"{GDPR}; Cypriot Law 125(I)/2018 s.8 ({TRACKER})", datetime.date(2018, 7, 31), False),
    ("ES", "", 14, f"{GDPR}; Spanish Organic Law 3/2018 art. 7 ({TRACKER})", datetime.date(2018, 12, 7), False),
    (
        "IT",
        "",
        14,
        f"{GDPR}; Italian Legislative Decree 101/2018 art. 2-quinquies ({TRACKER})",
        datetime.date(2018, 9, 19),
        False,
    ),
    (
        "LT",
        "",
        14,
        f"{GDPR}; Lithuanian Law on Legal Protection of Personal Data art. 6 ({TRACKER}); {DISPUTED}",
        datetime.date(2018, 7, 16),
        True,
    ),
    (
        "CA",
        "CA-QC",
        14,
        "Quebec Act respecting the protection of personal information in the private sector s.4.1 (Law 25)",
        datetime.date(2022, 9, 22),
        False,
    ),
    ("KR", "", 14, "Korean Personal Information Protection Act art. 22-2", datetime.date(2011, 9, 30), False),
    ("CN", "", 14, "Chinese Personal Information Protection Law art. 31", datetime.date(2021, 11, 1), False),
    ("CZ", "", 15, f"{GDPR}; Czech Act 110/2019 s.7 ({TRACKER})", datetime.date(2019, 4, 24), False),
    (
        "FR",
        "",
        15,
        f"{GDPR}; French Loi Informatique et Libertés art. 45 ({TRACKER})",
        datetime.date(2018, 6, 21),
        False,
    ),
    ("GR", "", 15, f"{GDPR}; Greek Law 4624/2019 art. 21 ({TRACKER})", datetime.date(2019, 8, 29), False),
    ("SI", "", 15, f"{GDPR}; Slovenian ZVOP-2 art. 8 ({TRACKER}); {DISPUTED}", datetime.date(2023, 1, 26), True),
    ("DE", "", 16, f"{GDPR} default (no national derogation) ({TRACKER})", datetime.date(2018, 5, 25), False),
    (
        "HR",
        "",
        16,
        f"{GDPR}; Croatian Act on the Implementation of the GDPR art. 19 ({TRACKER})",
        datetime.date(2018, 5, 25),
        False,
    ),
    ("HU", "", 16, f"{GDPR} default (no national derogation) ({TRACKER})", datetime.date(2018, 5, 25), False),
    ("IE", "", 16, f"{GDPR}; Irish Data Protection Act 2018 s.31 ({TRACKER})", datetime.date(2018, 5, 25), False),
    ("LU", "", 16, f"{GDPR} default (no national derogation) ({TRACKER})", datetime.date(2018, 5, 25), False),
    ("NL", "", 16, f"{GDPR}; Dutch GDPR Implementation Act art. 5 ({TRACKER})", datetime.date(2018, 5, 25), False),
    ("PL", "", 16, f"{GDPR} default ({TRACKER}); {DISPUTED}", datetime.date(2018, 5, 25), True),
    ("RO", "", 16, f"{GDPR} default ({TRACKER})", datetime.date(2018, 5, 25), False),
    ("SK", "", 16, f"{GDPR}; Slovak Act 18/2018 s.15 ({TRACKER})", datetime.date(2018, 5, 25), False),
    ("IN", "", 18, "Indian Digital Personal Data Protection Act 2023 s.9", datetime.date(2023, 8, 11), False),
    ("", "", 16, f"{GDPR} default age, applied where no rule is known", datetime.date(2018, 5, 25), False),
]

# (name, purpose, location, integral); the payment providers never receive a child's data, so they are not
# "active" for children (ThirdParty.active) and ask no separate consent of parents.
# The rows are stored in English; pages and emails show them translated when the text is still the one below
# (ThirdParty.purpose_display), so gettext_noop puts these texts in the catalogues.
THIRD_PARTIES: list[tuple[str, str, str, bool]] = [
    (
        "Hetzner Online GmbH",
        gettext_noop("Main data centre (ISO certified): hosts the service and its database."),
        gettext_noop("Germany"),
        True,
    ),
    (
        "Amazon Web Services",
        gettext_noop("Second data centre (ISO certified): encrypted backups."),
        gettext_noop("Ireland"),
        True,
    ),
    (
        "Braintree (PayPal)",
        gettext_noop("Card payments by adults who buy a plan. Never used for children."),
        gettext_noop("United States"),
        False,
    ),
    (
        "2Checkout (Verifone)",
        gettext_noop("Payments by adults who buy a plan. Never used for children."),
        gettext_noop("United States"),
        False,
    ),
]
NOT_FOR_CHILDREN = {"Braintree (PayPal)", "2Checkout (Verifone)"}

# The modules of ours that open a network connection to each provider: the only ones that may import a network
# client (OUTBOUND_CLIENTS, checked by tests/consent/test_outbound.py and by the import-linter contract "Only the
# declared integrations import a network client" in pyproject.toml, whose ignore_imports name these modules).
# A module of a provider that is not integral passes consent.services.disclosure_authorize before it sends
# anything. Providers without a module are reached by no code of ours: 2Checkout's checkout is a page the buyer's
# browser opens (its notifications come to us); Amazon Web Services keeps the operator's encrypted backups.
# The outgoing mail server (EMAIL_URL, Django's SMTP backend, whose errors mindomo.mail reads) is the operator's,
# in the main data centre: a mail provider instead must be added to THIRD_PARTIES first.
INTEGRATIONS: dict[str, tuple[str, ...]] = {
    "Hetzner Online GmbH": ("mindomo.mail",),
    "Braintree (PayPal)": ("billing.gateways.braintree_gateway",),
}

# Modules that open network connections to other machines (top-level packages, or the exact stdlib modules).
OUTBOUND_CLIENTS = (
    "aiohttp",
    "boto3",
    "botocore",
    "braintree",
    "ftplib",
    "grpc",
    "http.client",
    "httpx",
    "paramiko",
    "pycurl",
    "requests",
    "smtplib",
    "socket",
    "urllib.request",
    "urllib3",
    "websocket",
    "websockets",
    "xmlrpc.client",
)


def load(age_rule_model: Any, third_party_model: Any) -> None:
    """Insert the rows that are missing (idempotent); never touches a row that exists."""
    for country, subdivision, age, source, effective_from, review in AGE_RULES:
        if not age_rule_model.objects.filter(country=country, subdivision=subdivision).exists():
            age_rule_model.objects.create(
                country=country,
                subdivision=subdivision,
                age=age,
                legal_source=source,
                effective_from=effective_from,
                needs_legal_review=review,
                version=1,
            )
    for name, purpose, location, integral in THIRD_PARTIES:
        defaults: dict[str, Any] = {"purpose": purpose, "location": location, "integral": integral}
        if name in NOT_FOR_CHILDREN and any(f.name == "active" for f in third_party_model._meta.fields):
            defaults["active"] = False
        third_party_model.objects.get_or_create(name=name, defaults=defaults)


def ensure_loaded() -> None:
    """For tests and the demo: reload the reference data after a transactional test flushed it."""
    if not AgeRule.objects.filter(country="", subdivision="", superseded_at__isnull=True).exists():
        load(AgeRule, ThirdParty)
