from __future__ import annotations

import csv
import io
import time
import unicodedata
from collections import Counter
from typing import Any

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.db.models import Case, CharField, F, Q, QuerySet, Value, When
from django.urls import reverse
from django_countries import countries

from accounts.models import User
from accounts.selectors import user_is_child_or_school_account
from consent.selectors import age_rules_current, third_parties_published
from mindomo.privacy import registry

from .models import AccessLog, DisclosureRequest
from .roles import ROLES

ROLE_CHECK_KEY = "staff_role_check"
ROLE_RECHECK_SECONDS = 60


def user_has_staff_role(user: Any) -> bool:
    """Member of any privacy role's group (Support, Billing clerk, Privacy officer)."""
    return bool(user.groups.filter(name__in=[role.group for role in ROLES]).exists())


def is_staff_account(user: Any, *, session: Any = None) -> bool:
    """Staff for the security rules: is_staff, a superuser, or a member of any privacy role.

    The role membership of an account without the staff flag is rechecked at most once a minute per session
    (``session``), so an ordinary member's page costs no query for it."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or user.is_superuser:
        return True
    if session is None:
        return user_has_staff_role(user)
    now = int(time.time())
    cached = session.get(ROLE_CHECK_KEY)
    if isinstance(cached, list) and len(cached) == 3 and cached[0] == user.pk:
        if now - cached[1] < ROLE_RECHECK_SECONDS:
            return bool(cached[2])
    result = user_has_staff_role(user)
    session[ROLE_CHECK_KEY] = [user.pk, now, result]
    return result


def mfa_fingerprint(user: Any) -> str:
    """The account's authenticators (which and since when): "" when it has none. Changes when one is added,
    removed or regenerated."""

    rows = Authenticator.objects.filter(user_id=user.pk).order_by("pk").values_list("pk", "type", "created_at")
    return ";".join(f"{pk}:{kind}:{created.timestamp() if created else ''}" for pk, kind, created in rows)


def mfa_offered(user: Any) -> bool:
    """Adults may turn on two-factor authentication; children and school-registered accounts are not offered it."""
    return not user_is_child_or_school_account(user)


def access_log_for_subject(*, subject_id: int) -> QuerySet[AccessLog]:
    """Staff accesses to one person's data, newest first (privacy officers; the parent portal for a child)."""
    return AccessLog.objects.filter(subject_id=subject_id).order_by("-at", "-pk")


def access_log_rows(*, subject_id: int) -> QuerySet[AccessLog, Any]:
    """Staff accesses to one person's data, newest first, as rows of ``at``, ``model`` and ``action_label`` (the
    action's name in the active language, worked out in SQL): the parent portal reads them in its one statement."""
    labels = [When(action=value, then=Value(str(label))) for value, label in AccessLog.Action.choices]
    return access_log_for_subject(subject_id=subject_id).values(
        "at", "model", "action", action_label=Case(*labels, default=F("action"), output_field=CharField())
    )


def half_year(date: object) -> str:
    return f"{date.year}-H{1 if date.month <= 6 else 2}"  # type: ignore[attr-defined]


def transparency_report_csv(requests: QuerySet[DisclosureRequest] | None = None) -> str:
    """Counts of authorities' requests per half year, by type and outcome, with the users concerned."""
    requests = requests if requests is not None else DisclosureRequest.objects.all()
    counts: Counter[tuple[str, str, str]] = Counter()
    users: Counter[tuple[str, str, str]] = Counter()
    for request in requests.only("received_on", "kind", "outcome").prefetch_related("subjects"):
        key = (half_year(request.received_on), request.kind, request.outcome)
        counts[key] += 1
        users[key] += len(request.subjects.all())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["period", "type", "outcome", "requests", "users_concerned"])
    for key in sorted(counts):
        writer.writerow([*key, counts[key], users[key]])
    return out.getvalue()


def access_log_search(queryset: QuerySet[AccessLog], *, term: str) -> QuerySet[AccessLog]:
    """Entries about a person, or by a staff member, found by username or email (any case), or by a user id."""

    term = term.strip()
    people = User.objects.filter(Q(username__iexact=term) | Q(email__iexact=term)).values_list("pk", flat=True)
    ids = list(people)
    condition = Q(subject_id__in=ids) | Q(staff_id__in=ids) | Q(staff_label__iexact=term)
    if term.isdigit():
        condition |= Q(subject_id=int(term))
    return queryset.filter(condition)


def access_log_csv_rows(queryset: QuerySet[AccessLog]) -> Any:
    """CSV lines (header first) of the entries, streamed in chunks."""

    class _Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(_Echo())
    yield writer.writerow(["at", "staff_member", "staff_id", "action", "record_type", "record_id", "subject_id"])
    for entry in queryset.order_by("-at", "-pk").iterator(chunk_size=2000):
        yield writer.writerow(
            [
                entry.at.isoformat(),
                entry.staff_label,
                entry.staff_id or "",
                entry.action,
                entry.model,
                entry.object_id,
                entry.subject_id or "",
            ]
        )


# --- the published privacy policy: its generated parts --------------------------------------------------------
def retention_sections() -> list[dict[str, Any]]:
    """Per provider of the privacy registry: its label, what it keeps (declarations) and what the retention
    engine deletes (rules). The retention page and the privacy policy's tables are both this."""

    return [
        {"label": p.label, "declarations": list(p.declarations()), "rules": list(p.retention_rules())}
        for p in registry.providers()
    ]


def age_table() -> list[dict[str, Any]]:
    """The age table in force, in the reader's language: jurisdiction, age, source, since, legal review; in the
    alphabetical order of the names the reader reads (accents ignored: "Österreich" among the O), the default
    row last."""

    rows = []
    for rule in age_rules_current():
        rows.append(
            {
                "country": str(countries.name(rule.country)) if rule.country else "",
                "subdivision": rule.subdivision,
                "age": rule.age,
                "source": rule.legal_source,
                "since": rule.effective_from,
                "review": rule.needs_legal_review,
                "default": not rule.country,
                "code": rule.country,
            }
        )
    rows.sort(key=lambda row: (bool(row["default"]), _folded(str(row["country"])), str(row["subdivision"])))
    return rows


def _folded(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()


def age_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the policy says of the age table: how many jurisdictions, the range, the default and the US age."""
    ages = [row["age"] for row in rows]
    default = next((row["age"] for row in rows if row["default"]), None)
    united_states = next((row["age"] for row in rows if row["code"] == "US" and not row["subdivision"]), None)
    return {
        "jurisdictions": sum(1 for row in rows if not row["default"]),
        "youngest": min(ages) if ages else None,
        "oldest": max(ages) if ages else None,
        "default": default,
        "united_states": united_states,
        "review": sum(1 for row in rows if row["review"]),
    }


def policy_notice_context() -> dict[str, Any]:
    """Everything the privacy policy renders from the code's own data, so that it cannot drift from the product:
    the operator, the retention table (privacy registry), the third parties (consent.ThirdParty), the age table's
    summary (consent.AgeRule) and the periods the settings set. The cookie list comes from analytics through its
    template tag (``{% cookie_table %}``)."""

    ages = age_table()
    return {
        "portal_url": reverse("consent:portal"),
        "operator_name": settings.SELLER_NAME,
        "operator_address": settings.SELLER_ADDRESS,
        "contact_email": settings.CONSENT_SUPPORT_EMAIL,
        "retention_sections": retention_sections(),
        "third_parties": third_parties_published(),
        "ages": age_summary(ages),
        "consent_ttl_days": max(1, round(settings.CONSENT_REQUEST_TTL / 86400)),
        "deletion_grace_days": settings.ACCOUNT_DELETION_GRACE_DAYS,
        "request_days": settings.DSR_DEADLINE_DAYS,
        "cookie_days": settings.ANALYTICS_CHOICE_COOKIE_DAYS,
        "reconsent_days": settings.POLICY_RECONSENT_DAYS,
        "inactivity_days": settings.CHILD_INACTIVITY_DAYS,
    }


# --- the record of processing activities (GDPR Art. 30) ---------------------------------------------------------
# Locations as the third-party registry writes them that are in the EU or the EEA: a recipient elsewhere is a
# transfer to a third country (Art. 30(1)(e)).
EEA_LOCATIONS = frozenset(
    {
        "Austria", "Belgium", "Bulgaria", "Croatia", "Cyprus", "Czechia", "Denmark", "Estonia", "Finland", "France",
        "Germany", "Greece", "Hungary", "Iceland", "Ireland", "Italy", "Latvia", "Liechtenstein", "Lithuania",
        "Luxembourg", "Malta", "Netherlands", "Norway", "Poland", "Portugal", "Romania", "Slovakia", "Slovenia",
        "Spain", "Sweden", "European Union",
    }
)  # fmt: skip


def processing_records() -> dict[str, Any]:
    """The record of processing activities (GDPR Art. 30(1)), generated from the declarations the code keeps: the
    controller (settings), and per activity (each privacy provider) its legal basis, data subjects, the categories
    of data with their purposes and retention (its declarations), what the retention engine deletes (its rules),
    its recipients (the data centres, which hold everything, and the third parties it names) and the transfers
    outside the EEA among them. The privacy officer's page and its download render this."""
    parties = {party.name: party for party in third_parties_published()}
    hosting = [party for party in parties.values() if party.integral]
    activities = []
    for provider in registry.providers():
        recipients = hosting + [parties[name] for name in provider.recipients if name in parties]
        activities.append(
            {
                "name": provider.name,
                "label": provider.label,
                "legal_basis": provider.legal_basis,
                "data_subjects": provider.data_subjects,
                "categories": list(provider.declarations()),
                "rules": list(provider.retention_rules()),
                "recipients": recipients,
                "transfers": [party for party in recipients if party.location not in EEA_LOCATIONS],
            }
        )
    return {
        "controller": {
            "name": settings.SELLER_NAME,
            "address": settings.SELLER_ADDRESS,
            "vat_id": settings.SELLER_VAT_ID,
            "contact_email": settings.CONSENT_SUPPORT_EMAIL,
        },
        "activities": activities,
    }
