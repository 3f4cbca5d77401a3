from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from mindomo import privacy

from .models import AccessLog, NoticeDelivery, PolicyAcceptance, PolicyReconsent, StaffBrowser


def _access_log_expired(now: datetime) -> QuerySet[Any]:
    return AccessLog.objects.filter(at__lt=now - timedelta(days=settings.ACCESS_LOG_RETENTION_DAYS))


NOTICE_ADDRESS_RETENTION_DAYS = 730


def _notice_copies_expired(now: datetime) -> QuerySet[Any]:
    """Deliveries of a notice to a parent or a school contact (no account of theirs here), two years on."""
    return NoticeDelivery.objects.filter(
        user__isnull=True, sent_at__lt=now - timedelta(days=NOTICE_ADDRESS_RETENTION_DAYS)
    )


@privacy.register
class PrivacyOperationsProvider(privacy.PrivacyProvider):
    name = "privacy"
    label = _("Privacy records")
    legal_basis = _(
        "Legal obligation (GDPR Art. 6(1)(c)): accountability (Art. 5(2)), answering people's requests about their "
        "data (Art. 12-22), notices and the record of staff access."
    )
    data_subjects = _("People who exercise their rights or accept the privacy policy; staff.")

    def declarations(self) -> list[privacy.DataCategory]:
        return [
            privacy.DataCategory(
                model="privacy.PolicyAcceptance",
                fields=("version", "accepted_at", "by_guardian"),
                purpose=_("Prove which version of the privacy policy you (or your parent) accepted."),
                retention=_("Until your account is deleted."),
            ),
            privacy.DataCategory(
                model="privacy.NoticeDelivery",
                fields=("notice", "address", "via", "state", "sent_at"),
                purpose=_(
                    "Know that an important notice (such as a transfer of data) reached you, or reached a child's "
                    "parent or school for an account without an email address."
                ),
                retention=_("Until your account is deleted; a parent's or school's copy two years after sending."),
            ),
            privacy.DataCategory(
                model="privacy.PolicyReconsent",
                fields=("version", "child", "asked_at", "reminded_at", "paused_at", "answered_at"),
                purpose=_(
                    "After a material change of the privacy policy: when a child's parents were asked and reminded, "
                    "whether the account was paused for lack of an answer, and when a parent agreed."
                ),
                retention=_("Until the child's account is deleted."),
                subject="child",
            ),
            privacy.DataCategory(
                model="privacy.AccessLog",
                fields=("staff_label", "action", "model", "object_id", "subject_id", "at"),
                purpose=_("Record every time our staff look at your data, so that it can be checked."),
                retention=_("Two years, by your user id only."),
                subject="subject_id",
            ),
            privacy.DataCategory(
                model="mfa.Authenticator",
                fields=("type", "data", "created_at", "last_used_at"),
                purpose=_(
                    "Your second factor (authenticator app, recovery codes, security keys), if you turned "
                    "two-factor authentication on; staff accounts must."
                ),
                retention=_("Until you remove it or your account is deleted."),
            ),
            privacy.DataCategory(
                model="privacy.StaffBrowser",
                fields=("token_hash", "first_seen_at", "last_seen_at"),
                purpose=_("Staff accounts only: tell a staff member when their account is used from a new browser."),
                retention=_("Until the staff account is deleted."),
            ),
        ]

    def export(self, user: User) -> dict[str, Any]:
        return {
            "policy_acceptances": [
                {"version": a.version.version, "accepted_at": a.accepted_at.isoformat(), "by_parent": a.by_guardian}
                for a in PolicyAcceptance.objects.filter(user=user).select_related("version").order_by("pk")
            ],
            "notices_received": [
                {"subject": d.notice.subject, "state": d.state, "sent_at": d.sent_at.isoformat() if d.sent_at else None}
                for d in NoticeDelivery.objects.filter(user=user).select_related("notice").order_by("pk")
            ],
            "policy_reconsents": [
                {
                    "version": r.version.version,
                    "asked_at": r.asked_at.isoformat(),
                    "reminded_at": r.reminded_at.isoformat() if r.reminded_at else None,
                    "paused_at": r.paused_at.isoformat() if r.paused_at else None,
                    "answered_at": r.answered_at.isoformat() if r.answered_at else None,
                }
                for r in PolicyReconsent.objects.filter(child=user).select_related("version").order_by("pk")
            ],
            "second_factors": [
                {
                    "type": a.type,
                    "added_at": a.created_at.isoformat(),
                    "last_used_at": a.last_used_at.isoformat() if a.last_used_at else None,
                }
                for a in Authenticator.objects.filter(user=user).order_by("pk")
            ],
            "staff_browsers": [
                {"first_sign_in": b.first_seen_at.isoformat(), "last_sign_in": b.last_seen_at.isoformat()}
                for b in StaffBrowser.objects.filter(user=user).order_by("pk")
            ],
            "staff_accesses": [
                {"at": a.at.isoformat(), "action": a.action, "record": a.model}
                for a in AccessLog.objects.filter(subject_id=user.pk).order_by("pk")
            ],
        }

    def summary(self, user: User) -> dict[str, Any]:
        return {
            "policy_acceptances": privacy.Count(PolicyAcceptance.objects.filter(user_id=user.pk)),
            "notices_received": privacy.Count(NoticeDelivery.objects.filter(user_id=user.pk)),
            "policy_reconsents": privacy.Count(PolicyReconsent.objects.filter(child_id=user.pk)),
            "second_factors": privacy.Count(Authenticator.objects.filter(user_id=user.pk)),
            "staff_browsers": privacy.Count(StaffBrowser.objects.filter(user_id=user.pk)),
            "staff_accesses": privacy.Count(AccessLog.objects.filter(subject_id=user.pk)),
        }

    def erase_statements(self, user: User) -> list[privacy.ErasePart]:
        notices = Q(user_id=user.pk)
        if user.email:
            notices |= Q(user__isnull=True, address__iexact=user.email)
        return [
            *privacy.delete(PolicyAcceptance.objects.filter(user_id=user.pk)),
            *privacy.delete(NoticeDelivery.objects.filter(notices)),  # one DELETE: both indexes, OR-ed
            *privacy.delete(PolicyReconsent.objects.filter(child_id=user.pk)),
            *privacy.delete(Authenticator.objects.filter(user_id=user.pk)),
            *privacy.delete(StaffBrowser.objects.filter(user_id=user.pk)),
        ]
        # The access log keeps the bare user id (no name, no email) for its own retention period: it is
        # the proof of how staff handled the data, and is deleted by the rule below.

    def retention_rules(self) -> list[privacy.RetentionRule]:
        return [
            privacy.RetentionRule(
                name="privacy.access_log",
                description=_("Staff access log"),
                period=_("deleted two years after the access"),
                expired=_access_log_expired,
                key=("at", "id"),
            ),
            privacy.RetentionRule(
                name="privacy.notice_copies",
                description=_("Notices sent to a child's parent or a school's contact, with their address"),
                period=_("deleted two years after sending"),
                expired=_notice_copies_expired,
            ),
        ]
