"""Reads on consent that other apps rely on (billing, schools). Signatures are a contract: keep them."""

from __future__ import annotations

from typing import Any

from django.db.models import BooleanField, F, Func, Q, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import User

from . import age_gate, ledger
from .models import (
    AgeDecision,
    AgeOutcome,
    AgeRule,
    ConsentMethod,
    ConsentRecord,
    Guardian,
    LedgerEntry,
    LedgerPseudonym,
    ThirdParty,
)


def consent_for_child(*, child: Any) -> ConsentRecord | None:
    """The consent record under which ``child``'s account exists, if any."""
    if child is None or not getattr(child, "pk", None):
        return None
    return ConsentRecord.objects.select_related("school", "rule").filter(child_id=child.pk).first()


def is_school_consented(user: Any) -> bool:
    """True if the account exists through a school's consent (limited to the educational context)."""
    if user is None or not getattr(user, "pk", None):
        return False
    return ConsentRecord.objects.filter(child_id=user.pk, method=ConsentMethod.SCHOOL).exists()


def is_child_account(user: Any) -> bool:
    """True for an account under parental consent, or whose age decision says it is still a child."""
    if user is None or not getattr(user, "pk", None):
        return False
    if (
        ConsentRecord.objects.filter(child_id=user.pk, method=ConsentMethod.EMAIL_PLUS)
        .exclude(control__ended_at__isnull=False)
        .exists()
    ):
        return True
    first_of_this_month = timezone.now().date().replace(day=1)
    return AgeDecision.objects.filter(
        user_id=user.pk, outcome=AgeOutcome.CHILD, consent_month__gt=first_of_this_month
    ).exists()


def is_paused_by_parent(user: Any) -> bool:
    """True when a parent stopped collection for this child's account in the parent portal."""
    if user is None or not getattr(user, "pk", None):
        return False
    return ConsentRecord.objects.filter(
        child_id=user.pk, control__suspended_at__isnull=False, control__ended_at__isnull=True
    ).exists()


def is_paused_for_policy(user: Any) -> bool:
    """True when the account is paused because no parent agreed to a material change of the privacy policy."""
    if user is None or not getattr(user, "pk", None):
        return False
    return ConsentRecord.objects.filter(
        child_id=user.pk, control__policy_paused_at__isnull=False, control__ended_at__isnull=True
    ).exists()


def school_guardians_by_child(*, child_ids: list[int]) -> dict[int, list[str]]:
    """The parents' addresses schools recorded, per school-registered child (one query)."""
    found: dict[int, list[str]] = {}
    rows = (
        Guardian.objects.filter(record__child_id__in=child_ids, record__method=ConsentMethod.SCHOOL)
        .order_by("pk")
        .values_list("record__child_id", "email")
    )
    for child_id, email in rows:
        found.setdefault(child_id, []).append(email)
    return found


def user_may_purchase(user: Any) -> bool:
    """Billing's rule: children under parental consent and school-consented accounts never buy."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    under_consent = ConsentRecord.objects.filter(child_id=user.pk).exclude(control__ended_at__isnull=False)
    return not under_consent.exists() and not is_child_account(user)


def integral_third_parties() -> list[ThirdParty]:
    return list(ThirdParty.objects.filter(integral=True, active=True).order_by("name"))


def third_parties_needing_separate_consent() -> list[ThirdParty]:
    """Active providers that are not integral: a child's data goes to them only after the parent's separate
    consent by one of consent.verification's methods (2025 COPPA amendment). While there is none, email plus
    covers everything."""
    return list(ThirdParty.objects.filter(integral=False, active=True).order_by("name"))


def browser_age_decision(request: HttpRequest) -> age_gate.Decision | None:
    """The age gate's decision this browser carries (its signed cookie), or None."""
    return age_gate.read_decision(request)


def age_decision_cookie_seconds() -> int:
    """How long the age gate's decision cookie lasts."""
    return age_gate.cookie_max_age()


def third_parties_published() -> list[ThirdParty]:
    """Every service provider the privacy policy names (integral or not, receiving children's data or not)."""
    return list(ThirdParty.objects.order_by("-integral", "name"))


def age_rules_current() -> list[AgeRule]:
    """The age table in force: one current rule per jurisdiction (the default row, with no country, last)."""
    rules = list(AgeRule.objects.filter(superseded_at__isnull=True))
    return sorted(rules, key=lambda r: (r.country == "", r.country, r.subdivision))


def language_for_address(address: str) -> str:
    """The language to write to an address in: its account's stored choice, else the language a parent or
    guardian approved or was invited in ("" when nothing is known: the default language)."""

    found = User.objects.filter(email__iexact=address).exclude(language="").values_list("language", flat=True).first()
    if found:
        return str(found)
    parent = (
        ConsentRecord.objects.filter(parent_email__iexact=address)
        .exclude(parent_language="")
        .values_list("parent_language", flat=True)
        .first()
    )
    if parent:
        return str(parent)
    guardian = (
        Guardian.objects.filter(email__iexact=address).exclude(language="").values_list("language", flat=True).first()
    )
    return str(guardian or "")


def parents_to_ask(*, child: Any) -> list[tuple[str, str]]:
    """The addresses (and languages) of the parents who decide for a child under parental consent: the one who
    approved the account and any second guardian. Empty for every other account."""
    record = (
        ConsentRecord.objects.filter(child_id=getattr(child, "pk", None), method=ConsentMethod.EMAIL_PLUS)
        .exclude(control__ended_at__isnull=False)
        .prefetch_related("guardians")
        .first()
    )
    if record is None:
        return []
    found = [(record.parent_email, record.parent_language)] if record.parent_email else []
    known = {email.lower() for email, _language in found}
    for guardian in record.guardians.all():
        if guardian.email.lower() not in known:
            known.add(guardian.email.lower())
            found.append((guardian.email, guardian.language))
    return found


def ledger_rows_of_child(child_id: int) -> QuerySet[LedgerEntry]:
    """``ledger.entries_for_subject`` of the child's pseudonym with the pseudonym as a subquery: no query of its
    own, so the parent's page reads it (and the summary counts it) in the registry's one statement."""
    pseudonym = LedgerPseudonym.objects.filter(child_id=child_id, role=LedgerPseudonym.Role.CHILD).values("pseudonym")
    named_in_batch = Func(
        F("detail__subjects"),
        Func(Subquery(pseudonym[:1]), function="jsonb_build_array"),
        template="%(expressions)s",
        arg_joiner=" @> ",
        output_field=BooleanField(),
    )
    return LedgerEntry.objects.filter(
        Q(subject__in=pseudonym) | (Q(subject="", kind__in=ledger.INDEXED_BATCH_KINDS) & Q(named_in_batch))
    )
