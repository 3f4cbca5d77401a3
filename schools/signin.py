"""Signing in with the school's Google Workspace or Microsoft 365 account, through allauth's providers.

A school administrator declares the school's email domains and its provider (``SchoolDomain``). A domain is
verified by a DNS TXT value an operator confirms, or by the administrator signing in with an account of it.

The school sign-in page takes a school email address; for a verified domain it sends the person to the school's
provider with the hints (Google ``hd``, Microsoft ``domain_hint``) and remembers, in the session, which domain it
expects. When the provider answers, accounts' social adapter asks :func:`social_login_intercept` first: with no
school sign-in under way it does nothing (personal sign-ins go on as before). Otherwise it checks the answer
(Google: the ``hd`` claim equals the domain and the email is verified and of the domain; Microsoft: the tenant id
of the token equals the school's and the email is of the domain) and signs the person into their school account:
the rostered person with that school email, or a teacher or administrator of the school with that email. Someone
of the domain who matches nobody is sent to the page where they may ask to join the school as a teacher
(``services.teacher_join_request``; nobody is created before an administrator approves). No provider link, token
or profile is stored; a personal account (no ``hd``, another domain or tenant) never lands in a school account.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from .models import RosteredPerson, School, SchoolDomain, SchoolMembership
from .selectors import roles_of

SESSION_KEY = "schools.sign_in"
JOIN_SESSION_KEY = "schools.join"
JOIN_SESSION_SECONDS = 30 * 60
TXT_PREFIX = "mindomo-school-verification="
BACKEND = "allauth.account.auth_backends.AuthenticationBackend"


def _clean_domain(value: str) -> str:
    domain = value.strip().lower().removeprefix("@").rstrip(".")
    labels = domain.split(".")
    if (
        len(domain) > 253
        or len(labels) < 2
        or not all(label and len(label) <= 63 and label.replace("-", "").isalnum() for label in labels)
    ):
        raise ValidationError(_("Enter a domain such as school.example.org."))
    return domain


def domain_add(*, admin: User, school: School, domain: str, provider: str, tenant_id: str = "") -> SchoolDomain:
    """An administrator declares one of the school's email domains and its provider (unverified at first)."""
    if SchoolMembership.Role.ADMIN not in roles_of(user=admin, school=school):
        raise ValidationError(_("Only an administrator of this school can manage its domains."))
    domain = _clean_domain(domain)
    if provider not in SchoolDomain.Provider.values:
        raise ValidationError(_("Choose Google or Microsoft."))
    tenant_id = tenant_id.strip().lower()
    if provider == SchoolDomain.Provider.MICROSOFT and not tenant_id:
        raise ValidationError(_("A Microsoft school needs its tenant id (Microsoft Entra, Overview)."))
    if SchoolDomain.objects.filter(domain=domain).exists():
        raise ValidationError(_("This domain is already declared by a school."))
    return SchoolDomain.objects.create(
        school=school,
        domain=domain,
        provider=provider,
        tenant_id=tenant_id if provider == SchoolDomain.Provider.MICROSOFT else "",
        txt_token=secrets.token_urlsafe(24),
    )


def domain_remove(*, admin: User, domain: SchoolDomain) -> None:
    if SchoolMembership.Role.ADMIN not in roles_of(user=admin, school=domain.school):
        raise ValidationError(_("Only an administrator of this school can manage its domains."))
    domain.delete()


def domain_verify(*, domain: SchoolDomain, how: str) -> SchoolDomain:
    """Mark the domain verified: ``how`` is "dns" (an operator found the TXT value) or "sign_in"."""
    if domain.verified_at is None:
        domain.verified_at = timezone.now()
        domain.verified_how = how
        domain.save(update_fields=["verified_at", "verified_how"])
    return domain


def txt_value(domain: SchoolDomain) -> str:
    return TXT_PREFIX + domain.txt_token


def domain_for_email(email: str) -> SchoolDomain | None:
    """The verified school domain of an email address, or None."""
    _local, _at, host = email.strip().lower().rpartition("@")
    if not _at or not host:
        return None
    return SchoolDomain.objects.select_related("school").filter(domain=host, verified_at__isnull=False).first()


def _provider_url(domain: SchoolDomain, email: str) -> str:
    if domain.provider == SchoolDomain.Provider.GOOGLE:
        hints = {"hd": domain.domain, "login_hint": email} if email else {"hd": domain.domain}
        return reverse("google_login") + "?" + urlencode({"process": "login", "auth_params": urlencode(hints)})
    hints = {"domain_hint": domain.domain, **({"login_hint": email} if email else {})}
    return reverse("microsoft_login") + "?" + urlencode({"process": "login", "auth_params": urlencode(hints)})


def sign_in_start(request: HttpRequest, *, domain: SchoolDomain, email: str = "", purpose: str = "sign_in") -> str:
    """Remember the school sign-in under way; returns the provider's login page (with the domain's hints)."""
    request.session[SESSION_KEY] = {"domain": domain.pk, "purpose": purpose, "email": email.strip().lower()}
    return _provider_url(domain, email.strip())


def _jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT received straight from the provider over TLS (as allauth trusts the id token)."""
    try:
        payload = token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError, binascii.Error, TypeError):
        return {}


def _identity(sociallogin: Any, domain: SchoolDomain) -> tuple[str, bool]:
    """(email, whether the provider's answer belongs to the school's domain)."""
    data = sociallogin.account.extra_data or {}
    if domain.provider == SchoolDomain.Provider.GOOGLE:
        email = str(data.get("email", "")).lower()
        belongs = data.get("hd") == domain.domain and bool(data.get("email_verified"))
    else:
        email = str(data.get("mail") or data.get("userPrincipalName") or "").lower()
        token = getattr(getattr(sociallogin, "token", None), "token", "") or ""
        belongs = bool(domain.tenant_id) and _jwt_claims(token).get("tid", "").lower() == domain.tenant_id
    belongs = belongs and email.endswith("@" + domain.domain)
    return email, belongs


def _school_account(domain: SchoolDomain, email: str) -> User | None:
    """The rostered person with this school email, else a teacher or administrator of the school with it."""
    link = (
        RosteredPerson.objects.select_related("user")
        .annotate(e=Lower("email"))
        .filter(school=domain.school, e=email, user__is_active=True)
        .first()
    )
    if link is not None:
        return link.user
    return (
        User.objects.annotate(e=Lower("email"))
        .filter(
            e=email,
            is_active=True,
            school_memberships__school=domain.school,
            school_memberships__role__in=[SchoolMembership.Role.TEACHER, SchoolMembership.Role.ADMIN],
        )
        .distinct()
        .first()
    )


def _refused(request: HttpRequest, domain: SchoolDomain | None, reason: str) -> HttpResponse:
    return render(request, "schools/sign_in_refused.html", {"domain": domain, "reason": reason}, status=403)


def social_login_intercept(request: HttpRequest, sociallogin: Any) -> HttpResponse | None:
    """``accounts.hooks.social_login_intercept``: finish a school sign-in (or a domain check) under way."""
    intent = request.session.pop(SESSION_KEY, None)
    if not intent:
        return None
    domain = SchoolDomain.objects.select_related("school").filter(pk=intent.get("domain")).first()
    if domain is None or sociallogin.account.provider != domain.provider:
        return _refused(request, domain, _("This is not the school's sign-in service."))
    email, belongs = _identity(sociallogin, domain)
    if not belongs:
        return _refused(
            request,
            domain,
            _("This account is not a %(domain)s school account. Sign in with your school account.")
            % {"domain": domain.domain},
        )
    if intent.get("purpose") == "verify":
        admin = request.user if request.user.is_authenticated else None
        if admin is None or SchoolMembership.Role.ADMIN not in roles_of(user=admin, school=domain.school):
            return _refused(request, domain, _("Only an administrator of this school can verify its domains."))
        domain_verify(domain=domain, how="sign_in")
        messages.success(request, _("%(domain)s is verified.") % {"domain": domain.domain})
        return redirect("schools:domains", school_id=domain.school_id)
    if domain.verified_at is None:
        return _refused(request, domain, _("This school's domain is not verified yet."))
    user = _school_account(domain, email)
    if user is None:
        # The provider vouched for the school email, not for a role: the person may ask to join as a teacher
        # (schools.views.teacher_join). Only the name and the school email wait in the session, briefly.
        person = getattr(sociallogin, "user", None)
        request.session[JOIN_SESSION_KEY] = {
            "domain": domain.pk,
            "email": email,
            "first_name": str(getattr(person, "first_name", "") or "")[:150],
            "last_name": str(getattr(person, "last_name", "") or "")[:150],
            "until": int(time.time()) + JOIN_SESSION_SECONDS,
        }
        return redirect("schools:join")
    login(request, user, backend=BACKEND)
    return redirect("grading:index")


def join_intent(request: HttpRequest) -> dict[str, Any] | None:
    """The school sign-in that matched nobody, while it is fresh: the domain, school email and name."""
    intent = request.session.get(JOIN_SESSION_KEY)
    if not isinstance(intent, dict) or int(intent.get("until", 0)) < time.time():
        request.session.pop(JOIN_SESSION_KEY, None)
        return None
    return intent


def join_intent_forget(request: HttpRequest) -> None:
    request.session.pop(JOIN_SESSION_KEY, None)


def join_intent_sent(request: HttpRequest) -> None:
    """The request was made: the session keeps only which school and address, until the intent expires."""
    intent = request.session.get(JOIN_SESSION_KEY) or {}
    request.session[JOIN_SESSION_KEY] = {
        "domain": intent.get("domain"),
        "email": intent.get("email", ""),
        "until": intent.get("until", 0),
        "sent": True,
    }


def domains_of_school(school: School) -> list[SchoolDomain]:
    return list(SchoolDomain.objects.filter(school=school).order_by("domain"))


def admin_may_manage(*, user: Any, school: School) -> bool:
    return SchoolMembership.Role.ADMIN in roles_of(user=user, school=school)
