from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from mindomo import cascade, privacy

from . import services
from .models import AccountDeletionRequest, SupportInquiry, User

_PROFILE_FIELDS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "country",
    "product_updates",
    "date_joined",
    "last_login",
)


def _profile(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "country": str(user.country),
        "product_updates": user.product_updates,
        "date_joined": user.date_joined.isoformat(),
        "last_login": user.last_login.isoformat() if user.last_login else None,
    }


@privacy.register
class AccountsPrivacyProvider(privacy.PrivacyProvider):
    name = "accounts"
    label = _("Account")
    legal_basis = _(
        "Contract (GDPR Art. 6(1)(b)): the account the person asked for; for a child, the parent's or the school's "
        "consent (Art. 6(1)(a) and 8; COPPA)."
    )
    data_subjects = _("Adults, children whose parent consented, and students a school registered.")
    erase_order = 1000  # deletes the user row itself: last

    def declarations(self) -> list[privacy.DataCategory]:
        return [
            privacy.DataCategory(
                model="accounts.User",
                fields=(
                    "first_name",
                    "last_name",
                    "email",
                    "username",
                    "password",
                    "country",
                    "product_updates",
                    "last_login",
                    "date_joined",
                ),
                purpose=_("Create and secure your account, sign you in, and address you by name."),
                retention=_(
                    "Until you delete your account. Sign-ups whose email is never verified are deleted after a week."
                ),
            ),
            privacy.DataCategory(
                model="account.EmailAddress",
                fields=("email", "verified", "primary"),
                purpose=_("Verify your email address and let you change it."),
                retention=_("Until you delete your account or remove the address."),
            ),
            privacy.DataCategory(
                model="socialaccount.SocialAccount",
                fields=("provider", "uid", "date_joined", "last_login"),
                purpose=_(
                    "Let you sign in through a service you connected (Google, Facebook, Microsoft, "
                    "Yahoo). We keep which service and its account id, never its profile or tokens."
                ),
                retention=_("Until you disconnect the service or delete your account."),
            ),
            privacy.DataCategory(
                model="accounts.DataExport",
                fields=("state", "requested_at", "ready_at", "expires_at"),
                purpose=_("Prepare the copy of your data you asked for and let only you download it."),
                retention=ngettext(
                    "The file is deleted %(days)d day after it is ready; the request with your account.",
                    "The file is deleted %(days)d days after it is ready; the request with your account.",
                    settings.DATA_EXPORT_TTL_DAYS,
                )
                % {"days": settings.DATA_EXPORT_TTL_DAYS},
            ),
            privacy.DataCategory(
                model="accounts.AccountDeletionRequest",
                fields=("state", "reason", "requested_at", "erase_after", "erased_at"),
                purpose=_(
                    "Delete your account when you ask, and prove that we did. After the deletion the record "
                    "keeps a random reference and the dates only, nothing that identifies you."
                ),
                retention=_("Kept without any identifier after the deletion, as proof that it was done."),
            ),
        ]

    def export(self, user: User) -> dict[str, Any]:
        return {
            "profile": _profile(user),
            "email_addresses": [
                {"email": e.email, "verified": e.verified, "primary": e.primary}
                for e in EmailAddress.objects.filter(user=user).order_by("pk")
            ],
            "connected_services": [
                {"provider": a.provider, "date_joined": a.date_joined.isoformat()}
                for a in SocialAccount.objects.filter(user=user).order_by("pk")
            ],
        }

    def summary(self, user: User) -> dict[str, Any]:
        # the profile read with the other items, by the user's id (the summary is then compiled once per process)
        profile = User.objects.filter(pk=user.pk).values(*_PROFILE_FIELDS)
        return {
            "profile": privacy.First(profile),
            "email_addresses": privacy.Count(EmailAddress.objects.filter(user_id=user.pk)),
            "connected_services": privacy.Count(SocialAccount.objects.filter(user_id=user.pk)),
        }

    def retention_rules(self) -> list[privacy.RetentionRule]:
        return [
            privacy.RetentionRule(
                name="accounts.unverified_signups",
                description=_("Sign-ups whose email address was never verified"),
                period=ngettext(
                    "deleted %(days)d day after sign-up",
                    "deleted %(days)d days after sign-up",
                    settings.UNVERIFIED_ACCOUNT_TTL_DAYS,
                )
                % {"days": settings.UNVERIFIED_ACCOUNT_TTL_DAYS},
                expired=services.unverified_accounts_expired,
                key=services.UNVERIFIED_KEY,
                returning=("id",),
                after_delete=services.unverified_accounts_deleted,
            ),
            privacy.RetentionRule(
                name="accounts.data_export_files",
                description=_("Copies of your data you asked for (the zip file)"),
                period=ngettext(
                    "deleted %(days)d day after it is ready",
                    "deleted %(days)d days after it is ready",
                    settings.DATA_EXPORT_TTL_DAYS,
                )
                % {"days": settings.DATA_EXPORT_TTL_DAYS},
                expired=services.data_exports_expired,
                key=("expires_at", "id"),
                purge=services.data_exports_expire_rows,
            ),
        ]

    def erase_statements(self, user: User) -> list[privacy.ErasePart]:
        # EmailAddress, SocialAccount (and SocialToken) rows go with the user, and every other table's rows are
        # deleted or detached as their foreign key's on_delete says: the cascade's statements when it has a plan
        # (mindomo.cascade), else Django's collector.
        user_row = cascade.row_steps(User, user.pk)
        return [
            # Data exports: the archives are deleted from disk once this transaction commits.
            services.data_exports_erase_statement(user=user),
            # Earlier, cancelled deletion requests; the open one keeps only its reference (user set to NULL).
            *privacy.delete(
                AccountDeletionRequest.objects.filter(user_id=user.pk, state=AccountDeletionRequest.State.CANCELLED)
            ),
            *(
                # a statement reaching its rows through a foreign key a provider before this one emptied of the
                # person's rows (their grades, their invoices detached) is left out by erase_run
                [
                    privacy.Statement(sql, params, unless_cleared=(*hop, user.pk) if hop else None)
                    for sql, params, hop in user_row
                ]
                if user_row is not None
                else [User.objects.filter(pk=user.pk).delete]
            ),
        ]


# --- Data subject rights: the contact form's messages ---


@privacy.register
class SupportPrivacyProvider(privacy.PrivacyProvider):
    """Messages sent through the contact form, linked to the account or sent from its email address."""

    name = "support"
    label = _("Messages to support")
    legal_basis = _(
        "Legitimate interest in answering the messages people send (GDPR Art. 6(1)(f)); legal obligation where a "
        "message exercises a data protection right (Art. 6(1)(c))."
    )
    data_subjects = _("People who write to support, with or without an account.")
    erase_order = 900

    def declarations(self) -> list[privacy.DataCategory]:
        return [
            privacy.DataCategory(
                model="accounts.SupportInquiry",
                fields=("name", "email", "topic", "message", "created_at"),
                purpose=_("Answer the questions and requests you send us through the contact form."),
                retention=ngettext(
                    "Deleted %(days)d day after we receive it, or earlier when you delete your account.",
                    "Deleted %(days)d days after we receive it, or earlier when you delete your account.",
                    settings.SUPPORT_INQUIRY_RETENTION_DAYS,
                )
                % {"days": settings.SUPPORT_INQUIRY_RETENTION_DAYS},
            ),
        ]

    def _inquiries(self, user: User) -> QuerySet[SupportInquiry]:
        mine = Q(user_id=user.pk)
        if user.email:
            mine |= Q(email__iexact=user.email)
        return SupportInquiry.objects.filter(mine)

    def export(self, user: User) -> dict[str, Any]:
        return {
            "inquiries": [
                {
                    "received_at": i.created_at.isoformat(),
                    "name": i.name,
                    "email": i.email,
                    "topic": i.topic,
                    "message": i.message,
                }
                for i in self._inquiries(user).order_by("created_at", "pk")
            ]
        }

    def retention_rules(self) -> list[privacy.RetentionRule]:
        return [
            privacy.RetentionRule(
                name="accounts.support_inquiries",
                description=_("Messages sent through the contact form"),
                period=ngettext(
                    "deleted %(days)d day after we receive them",
                    "deleted %(days)d days after we receive them",
                    settings.SUPPORT_INQUIRY_RETENTION_DAYS,
                )
                % {"days": settings.SUPPORT_INQUIRY_RETENTION_DAYS},
                expired=services.support_inquiries_expired,
                key=services.SUPPORT_KEY,
            )
        ]

    def summary(self, user: User) -> dict[str, Any]:
        return {"inquiries": privacy.Count(self._inquiries(user))}

    def erase_statements(self, user: User) -> list[privacy.ErasePart]:
        return privacy.delete(self._inquiries(user))


@privacy.register
class SessionsPrivacyProvider(privacy.PrivacyProvider):
    """Stored sign-in sessions: they hold the user id and, for a while, the login name typed at sign-in."""

    name = "sessions"
    label = _("Sign-in sessions")
    legal_basis = _(
        "Contract (GDPR Art. 6(1)(b)): staying signed in; legitimate interest in the account's security (Art. 6(1)(f))."
    )
    data_subjects = _("Account holders.")
    erase_order = 950  # after everything that might still need them, before the user row

    def declarations(self) -> list[privacy.DataCategory]:
        return [
            privacy.DataCategory(
                model="accounts.UserSession",
                fields=("session_key", "session_data", "expire_date", "user_id"),
                purpose=_("Keep you signed in and remember a form you are filling in."),
                retention=_("Until you sign out or two weeks after your last visit; deleted daily once expired."),
            )
        ]

    def export(self, user: User) -> dict[str, Any]:
        # What a session holds is the mechanics of signing in, already exported as the account's data.
        return {"note": str(_("Sign-in sessions hold your user id and the login you typed; nothing else."))}

    def summary(self, user: User) -> dict[str, Any]:
        return self.export(user)  # no query

    def erase_statements(self, user: User) -> list[privacy.ErasePart]:
        return [services.user_sessions_end_statement(user=user)]
