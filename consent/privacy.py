"""What consent keeps about people, for the privacy registry (export, erase, the policy page)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Value
from django.db.models.functions import Coalesce, NullIf
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User
from mindomo import privacy

from . import ledger, selectors, services
from .models import (
    AgeDecision,
    ConsentRecord,
    DisclosureConsent,
    Guardian,
    LedgerPseudonym,
    SignedConsentForm,
)


def _ttl_days() -> int:
    return max(1, round(settings.CONSENT_REQUEST_TTL / 86400))


@privacy.register
class ConsentPrivacyProvider(privacy.PrivacyProvider):
    name = "consent"
    label = _("Age and consent")
    legal_basis = _(
        "Legal obligation (GDPR Art. 6(1)(c), Art. 8 and COPPA): asking a parent's consent for a child, and proving it."
    )
    data_subjects = _("Children who sign up, their parents and guardians.")
    erase_order = 40

    def declarations(self) -> list[privacy.DataCategory]:
        return [
            privacy.DataCategory(
                model="consent.AgeDecision",
                fields=("outcome", "rule", "consent_month", "decided_at"),
                purpose=_(
                    "Know whether an account needs a parent's consent. We keep the decision (adult, or child "
                    "and the month the child reaches the age of consent), never the date of birth."
                ),
                retention=_("Until the account is deleted."),
            ),
            privacy.DataCategory(
                model="consent.PendingSignup",
                fields=("parent_email", "sealed login and password hash", "country", "expires_at"),
                purpose=_(
                    "Ask a parent to approve a child's sign-up. The child's login and password are sealed with "
                    "a key that only the parent's link holds; nothing readable about the child is stored."
                ),
                retention=ngettext(
                    "Until the parent answers, or %(days)s day at most; then deleted.",
                    "Until the parent answers, or %(days)s days at most; then deleted.",
                    _ttl_days(),
                )
                % {"days": _ttl_days()},
            ),
            privacy.DataCategory(
                model="consent.ConsentRecord",
                fields=("method", "parent_email", "school", "policy_version", "rule", "granted_at"),
                purpose=_("Prove that a parent or a school consented to a child's account, and how."),
                retention=_("As long as the child's account exists."),
            ),
            privacy.DataCategory(
                model="consent.Guardian",
                fields=("email",),
                purpose=_("Let a second parent or guardian, invited by the consenting parent, use the parent portal."),
                retention=_("As long as the child's account exists."),
            ),
            privacy.DataCategory(
                model="consent.ParentalControl",
                fields=("suspended_at", "policy_paused_at", "inactivity_notice_at", "age_up_due_at", "ended_at"),
                purpose=_(
                    "Stop collection when a parent asks or has not agreed to a changed privacy policy, note when we "
                    "told the parent or school that an unused account will be erased, and end parental control at "
                    "the age of consent."
                ),
                retention=_("As long as the child's account exists."),
            ),
            privacy.DataCategory(
                model="consent.DisclosureConsent",
                fields=("third_party", "method", "verification_ref", "granted_at"),
                purpose=_(
                    "Prove a parent's separate consent to share the child's data with a provider that is not needed "
                    "to run the service, and how it was verified (a card charge refunded at once, or a signed form)."
                ),
                retention=_("As long as the child's account exists."),
            ),
            privacy.DataCategory(
                model="consent.SignedConsentForm",
                fields=("third_party", "parent_email", "file", "uploaded_at", "outcome", "reviewed_at", "note"),
                purpose=_(
                    "A signed consent form a parent uploaded for such a sharing, so that our staff can check it and "
                    "keep it as the proof."
                ),
                retention=_("As long as the child's account exists; the file is deleted with it."),
                subject="child_id",
            ),
            privacy.DataCategory(
                model="consent.LedgerPseudonym",
                fields=("pseudonym", "email"),
                purpose=_(
                    "Link the consent ledger's pseudonyms to the child and the parents while the account exists."
                ),
                retention=_("Deleted with the child's account; the ledger then names no one."),
            ),
            privacy.DataCategory(
                model="consent.LedgerEntry",
                fields=("kind", "at", "subject", "method", "rule", "policy_version"),
                purpose=_(
                    "Prove every consent event (requests, consent, suspension, withdrawal) in a tamper-evident chain."
                ),
                retention=_("Kept: it holds pseudonyms only, which nothing links to a person after the deletion."),
            ),
        ]

    def export(self, user: User) -> dict[str, Any]:
        decision = AgeDecision.objects.select_related("rule").filter(user=user).first()
        record = ConsentRecord.objects.select_related("school").filter(child=user).first()
        return {
            "age_decision": {
                "outcome": decision.outcome,
                "rule": decision.rule.jurisdiction,
                "rule_version": decision.rule.version,
                "consent_month": decision.consent_month.isoformat()[:7] if decision.consent_month else None,
                "decided_at": decision.decided_at.isoformat(),
            }
            if decision
            else None,
            "consent": {
                "method": record.method,
                "parent_email": record.parent_email,
                "school": record.school.name if record.school else None,
                "policy_version": record.policy_version,
                "granted_at": record.granted_at.isoformat(),
            }
            if record
            else None,
            "disclosures": [
                {"to": d.third_party.name, "method": d.method, "granted_at": d.granted_at.isoformat()}
                for d in DisclosureConsent.objects.filter(record__child=user).select_related("third_party")
            ],
            "signed_consent_forms": [
                {"to": f.third_party.name, "uploaded_at": f.uploaded_at.isoformat(), "outcome": f.outcome}
                for f in SignedConsentForm.objects.filter(record__child=user).select_related("third_party")
            ],
            "guardians": list(
                Guardian.objects.filter(record__child=user).order_by("pk").values_list("email", flat=True)
            ),
            "consent_ledger": [
                {"at": e.at.isoformat(), "event": e.kind, "method": e.method, "policy_version": e.policy_version}
                for subject in LedgerPseudonym.objects.filter(child=user, role="child").values_list(
                    "pseudonym", flat=True
                )[:1]
                for e in ledger.entries_for_subject(subject)
            ],
        }

    def summary(self, user: User) -> dict[str, Any]:
        return {
            "age_decision": privacy.First(
                AgeDecision.objects.filter(user_id=user.pk).values(
                    "outcome",
                    "rule__version",
                    "decided_at",
                    # AgeRule.jurisdiction in SQL
                    rule_jurisdiction=Coalesce(
                        NullIf("rule__subdivision", Value("")), NullIf("rule__country", Value("")), Value("*")
                    ),
                )
            ),
            "consent": privacy.First(
                ConsentRecord.objects.filter(child_id=user.pk).values(
                    "method", "parent_email", "school__name", "policy_version", "granted_at"
                )
            ),
            "disclosures": privacy.Count(DisclosureConsent.objects.filter(record__child_id=user.pk)),
            "signed_consent_forms": privacy.Count(SignedConsentForm.objects.filter(record__child_id=user.pk)),
            "guardians": privacy.Count(Guardian.objects.filter(record__child_id=user.pk)),
            "consent_ledger": privacy.Count(selectors.ledger_rows_of_child(user.pk)),
        }

    def retention_rules(self) -> list[privacy.RetentionRule]:
        return [
            privacy.RetentionRule(
                name="consent.pending_signups",
                description=_("A child's sign-up waiting for a parent's answer, the parent's email included"),
                period=ngettext(
                    "deleted %(days)d day after the request when the parent has not answered",
                    "deleted %(days)d days after the request when the parent has not answered",
                    max(1, round(settings.CONSENT_REQUEST_TTL / 86400)),
                )
                % {"days": max(1, round(settings.CONSENT_REQUEST_TTL / 86400))},
                expired=services.pending_signups_expired,
                key=services.EXPIRY_KEY,
                returning=services.EXPIRY_RETURNING,
                after_delete=services.pending_signups_expired_logged,
                lock=services.EXPIRY_LOCK,
            ),
            privacy.RetentionRule(
                name="consent.inactive_children",
                description=_(
                    "A child's or school-registered account nobody signed in to, with everything it holds (through "
                    "the erasure pipeline)"
                ),
                period=ngettext(
                    "erased %(notice)d day after we told the parent or the school, once nobody had signed in for "
                    "%(days)d days",
                    "erased %(notice)d days after we told the parent or the school, once nobody had signed in for "
                    "%(days)d days",
                    settings.CHILD_INACTIVITY_NOTICE_DAYS,
                )
                % {"notice": settings.CHILD_INACTIVITY_NOTICE_DAYS, "days": settings.CHILD_INACTIVITY_DAYS},
                expired=services.inactive_children_expired,
                purge=services.inactive_children_erase,
            ),
        ]

    def erase_statements(self, user: User) -> list[privacy.ErasePart]:
        # The pseudonym mapping goes: the ledger's rows stay, naming no one. Guardians and controls go
        # with the record (CASCADE).
        forms, params = (
            SignedConsentForm.objects.filter(record__child_id=user.pk).values_list("file").query.sql_with_params()
        )
        storage = SignedConsentForm._meta.get_field("file").storage

        def files_delete(rows: list[tuple[Any, ...]]) -> None:
            for (name,) in rows:
                if name:
                    storage.delete(name)  # the file goes; the row goes with the record

        return [
            *privacy.delete(LedgerPseudonym.objects.filter(child_id=user.pk)),
            privacy.Statement(forms, list(params), files_delete),
            *privacy.delete(ConsentRecord.objects.filter(child_id=user.pk)),
            *privacy.delete(AgeDecision.objects.filter(user_id=user.pk)),
        ]
