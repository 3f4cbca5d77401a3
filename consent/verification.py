"""How a parent proves, strongly enough for the 2025 COPPA Rule, that they consent to a disclosure of their
child's data to a provider that is not integral to the service. Email plus never suffices for it.

One interface, pluggable methods (``METHODS``), each recording a ``DisclosureConsent`` with its method, and a
ledger event naming the method:

- ``card_charge``: a small charge (CONSENT_CARD_CHARGE_AMOUNT) on the parent's card through Braintree, refunded at
  once: a monetary transaction the card's holder is notified of (by the card network, and by our email);
- ``signed_form``: a signed consent form uploaded in the portal and approved by a privacy officer on the desk
  (the admin's signed consent forms); a rejection records nothing and tells the parent.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import emails, hooks, ledger
from .models import ConsentRecord, DisclosureConsent, SignedConsentForm, ThirdParty

# magic numbers of the files a signed form may be: PDF, JPEG, PNG
FORM_SIGNATURES = {b"%PDF-": ".pdf", b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}


@dataclass(frozen=True)
class Submitted:
    """What the parent's submission led to: a consent recorded now, or a form waiting for review."""

    consent: DisclosureConsent | None = None
    form: SignedConsentForm | None = None


class VerificationMethod(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def label(self) -> Any: ...

    def submit(
        self, *, record: ConsentRecord, third_party: ThirdParty, parent_email: str, data: dict[str, Any]
    ) -> Submitted: ...


def _record_consent(
    *,
    record: ConsentRecord,
    third_party: ThirdParty,
    actor_email: str,
    method: str,
    reference: str,
    now: datetime.datetime | None = None,
) -> DisclosureConsent:
    """The consent and its ledger event, in one transaction; an existing consent is kept (idempotent)."""
    now = now or timezone.now()
    with transaction.atomic():
        consent, created = DisclosureConsent.objects.get_or_create(
            record=record,
            third_party=third_party,
            defaults={"method": method, "verification_ref": reference[:64], "granted_at": now},
        )
        if created:
            ledger.record_event(
                kind="granted",
                record=record,
                actor=ledger.parent_pseudonym(child_id=record.child_id, email=actor_email),
                detail={"disclosure_to": third_party.name, "verification": method},
                now=now,
            )
    return consent


class CardCharge:
    code = DisclosureConsent.Method.CARD_CHARGE
    label = gettext_lazy("A small card charge, refunded at once")

    def submit(
        self, *, record: ConsentRecord, third_party: ThirdParty, parent_email: str, data: dict[str, Any]
    ) -> Submitted:
        nonce = str(data.get("payment_method_nonce", ""))
        if not nonce:
            raise ValidationError(_("Please enter your card details for the check."), code="nonce")
        reference = f"consent-{record.pk}-{third_party.pk}-{timezone.now():%Y%m%d%H%M%S}"
        charge = hooks.card_charge.implementation()(nonce=nonce, reference=reference)  # billing; ValidationError
        if not charge.success:
            raise ValidationError(
                _("Your card could not be charged. Nothing was recorded; please try another card."), code="declined"
            )
        with transaction.atomic():
            consent = _record_consent(
                record=record,
                third_party=third_party,
                actor_email=parent_email,
                method=self.code,
                reference=f"charge:{charge.charge_id}",
            )
            emails.send_card_charge_notice(
                record=record, to=parent_email, third_party=third_party, amount=charge.amount, refunded=charge.refunded
            )
        return Submitted(consent=consent)


class SignedForm:
    code = DisclosureConsent.Method.SIGNED_FORM
    label = gettext_lazy("A signed consent form, checked by our staff")

    def submit(
        self, *, record: ConsentRecord, third_party: ThirdParty, parent_email: str, data: dict[str, Any]
    ) -> Submitted:
        from django.conf import settings

        upload = data.get("signed_form")
        if upload is None or not getattr(upload, "size", 0):
            raise ValidationError(_("Please choose the signed form to upload (PDF, JPEG or PNG)."), code="file")
        if upload.size > settings.CONSENT_FORM_MAX_BYTES:
            raise ValidationError(_("This file is too large. Please upload a smaller scan or photo."), code="size")
        head = upload.read(16)
        upload.seek(0)
        if not any(head.startswith(magic) for magic in FORM_SIGNATURES):
            raise ValidationError(_("Please upload the signed form as a PDF, JPEG or PNG file."), code="type")
        if SignedConsentForm.objects.filter(
            record=record, third_party=third_party, outcome=SignedConsentForm.Outcome.PENDING
        ).exists():
            raise ValidationError(_("Your signed form is already waiting for our review."), code="pending")
        form = SignedConsentForm.objects.create(
            record=record, third_party=third_party, parent_email=parent_email, file=upload
        )
        return Submitted(form=form)


_METHODS: tuple[VerificationMethod, ...] = (CardCharge(), SignedForm())
METHODS: dict[str, VerificationMethod] = {m.code: m for m in _METHODS}


def disclosure_consent_submit(
    *, record: ConsentRecord, third_party: ThirdParty, parent_email: str, method: str, data: dict[str, Any]
) -> Submitted:
    """The one entry point: a parent's separate consent to a disclosure, by one of METHODS."""
    if record.method != "email_plus":
        raise ValidationError(_("This account is managed by its school."), code="school")
    if third_party.integral or not third_party.active:
        raise ValidationError(_("No separate consent is needed for this provider."), code="not_needed")
    existing = DisclosureConsent.objects.filter(record=record, third_party=third_party).first()
    if existing is not None:
        return Submitted(consent=existing)
    chosen = METHODS.get(method)
    if chosen is None:
        raise ValidationError(
            _(
                "Sharing your child's data with %(name)s needs a stronger proof that you are the parent than "
                "an email: a small card charge refunded at once, or a signed consent form."
            )
            % {"name": third_party.name},
            code="method",
        )
    return chosen.submit(record=record, third_party=third_party, parent_email=parent_email, data=data)


def signed_form_review(*, form: SignedConsentForm, staff: Any, approve: bool, note: str = "") -> None:
    """A privacy officer's decision on a signed form: approved, the consent is recorded (method signed_form,
    with the staff member's review in the ledger); rejected, nothing is recorded. The parent is told either way."""
    with transaction.atomic():
        locked = SignedConsentForm.objects.select_for_update().select_related("record", "third_party").get(pk=form.pk)
        if locked.outcome != SignedConsentForm.Outcome.PENDING:
            raise ValidationError(_("This form has already been reviewed."), code="reviewed")
        locked.outcome = SignedConsentForm.Outcome.APPROVED if approve else SignedConsentForm.Outcome.REJECTED
        locked.reviewed_at = timezone.now()
        locked.reviewed_by = staff
        locked.note = note[:300]
        locked.save(update_fields=["outcome", "reviewed_at", "reviewed_by", "note"])
        if approve:
            _record_consent(
                record=locked.record,
                third_party=locked.third_party,
                actor_email=locked.parent_email,
                method=DisclosureConsent.Method.SIGNED_FORM,
                reference=f"form:{locked.pk}",
            )
        emails.send_signed_form_reviewed(form=locked)
