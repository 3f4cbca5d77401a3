"""Where higher apps take part in consent's work (see mindomo.hooks): they register in their ``ready()``.

billing checks a parent's card, grading names a school child's teachers, privacy records policy acceptance
and shows the staff accesses to a child's data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from mindomo.hooks import Hook

if TYPE_CHECKING:
    from django.db.models import QuerySet


class CardCheck(Protocol):
    """The outcome of a zero-amount card verification (nothing charged, nothing stored)."""

    @property
    def success(self) -> bool: ...

    @property
    def verification_id(self) -> str: ...


class CardCharge(Protocol):
    """A small charge refunded at once (the notice of a monetary transaction reaches the card's holder)."""

    @property
    def success(self) -> bool: ...

    @property
    def charge_id(self) -> str: ...

    @property
    def refunded(self) -> bool: ...

    @property
    def amount(self) -> str: ...


# card_charge(nonce=..., reference=...) -> CardCharge; raises ValidationError when the charge cannot be made.
card_charge: Hook[Callable[..., CardCharge]] = Hook("consent.card_charge", single=True)
# card_verify(nonce=...) -> CardCheck; raises ValidationError when the check cannot be made at all.
card_verify: Hook[Callable[..., CardCheck]] = Hook("consent.card_verify", single=True)
# The token the card check's Drop-in widget needs; "" when the payment service cannot be reached.
card_check_client_token: Hook[Callable[[], str]] = Hook("consent.card_check_client_token", single=True)
# policy_accept(user) -> the version the user just accepted (a child taking over their account).
policy_accept: Hook[Callable[[Any], str]] = Hook("consent.policy_accept", single=True)
# policy_version() -> the version of the privacy policy in force ("" when none), named on consent records.
policy_version: Hook[Callable[[], str]] = Hook("consent.policy_version", single=True)
# school_contacts(school=..., child_id=...) -> email addresses at the school who look after this child.
school_contacts: Hook[Callable[..., Iterable[str]]] = Hook("consent.school_contacts")
# staff_accesses(subject_id=...) -> the staff's accesses to a person's data, newest first, as a lazy
# ``.values("at", "model", "action", "action_label")`` queryset (the portal reads it with the page's other rows).
staff_accesses: Hook[Callable[..., QuerySet[Any]]] = Hook("consent.staff_accesses", single=True)
