"""Staff sign-in through allauth: throttling, a second factor for every staff account on every admin URL,
TOTP and recovery codes, idle sessions, sessions ending on MFA or password change, new-browser emails."""

from __future__ import annotations

import time
import types
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse

from accounts.models import User
from privacy import staff_security
from privacy.models import StaffBrowser
from tests.accounts.factories import PASSWORD, UserFactory
from tests.support.mfa import recovery_codes, sign_in, totp_code, totp_enable

pytestmark = pytest.mark.django_db

STAFF_ROLES = ["support_user", "billing_clerk_user", "privacy_officer_user", "staff_without_role", "superuser"]
NEEDS_MFA = "/accounts/2fa/"


def _password_step(client: Client, login: str, password: str = PASSWORD) -> Any:
    return client.post(reverse("account_login"), {"login": login, "password": password})


def _reauthenticate(client: Client) -> None:
    """allauth asks for the password again before MFA changes (MFA_REAUTHENTICATION_REQUIRED)."""
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302, response.content[:300]


def _signed_in_user_id(client: Client) -> Any:
    return client.session.get("_auth_user_id")


# --- the admin's sign-in is allauth's, throttled per account and per address -------------------------------
def test_the_admin_sign_in_page_sends_to_allauths_sign_in() -> None:
    response = Client().get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert "next=%2Fadmin%2F" in response["Location"]


def test_a_signed_in_member_is_refused_at_the_admin_sign_in(member: User) -> None:
    client = sign_in(Client(), member)
    assert client.get("/admin/login/").status_code == 403


def test_after_five_wrong_passwords_the_right_one_is_refused_until_the_lockout_ends(
    support_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client()
    for _attempt in range(5):
        response = _password_step(client, support_user.username, "wrong-password-1")
        assert response.status_code == 200
    response = _password_step(client, support_user.username)
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert _signed_in_user_id(client) is None
    assert "mfa" not in str(client.session.get("account_authentication_methods", ""))

    # Five minutes later (allauth's "5/5m/key"), the right password passes the password step.
    from allauth.core.internal import ratelimit

    later = time.time() + 5 * 60 + 1
    monkeypatch.setattr(
        ratelimit, "time", types.SimpleNamespace(time=lambda: later, monotonic=time.monotonic, sleep=time.sleep)
    )
    response = _password_step(Client(), support_user.username)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")


def test_failures_from_one_address_lock_out_other_accounts_too(
    support_user: User, privacy_officer_user: User, billing_clerk_user: User
) -> None:
    client = Client()
    for _attempt in range(4):
        _password_step(client, support_user.username, "wrong-password-1")
        _password_step(client, privacy_officer_user.username, "wrong-password-1")
    _password_step(client, "someone-else", "wrong-password-1")
    _password_step(client, "someone-else-2", "wrong-password-1")  # 10 failures from this address
    response = _password_step(client, billing_clerk_user.username)
    assert "Too many failed login attempts" in response.content.decode()
    assert response.status_code == 200
    # another address is not affected
    response = Client(REMOTE_ADDR="10.1.2.3").post(
        reverse("account_login"), {"login": billing_clerk_user.username, "password": PASSWORD}
    )
    assert response.status_code == 302


# --- the second factor ------------------------------------------------------------------------------------
def test_totp_sign_in_opens_the_admin(privacy_officer_user: User) -> None:
    client = Client()
    secret = totp_enable(privacy_officer_user)
    assert _password_step(client, privacy_officer_user.username)["Location"] == reverse("mfa_authenticate")
    assert client.get("/admin/").status_code == 302  # not signed in yet
    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000" if totp_code(secret) != "000000" else "111111"})
    assert wrong.status_code == 200
    assert _signed_in_user_id(client) is None

    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert _signed_in_user_id(client) == str(privacy_officer_user.pk)
    assert client.get("/admin/").status_code == 200


def test_a_recovery_code_signs_in_once(support_user: User) -> None:
    code = recovery_codes(support_user)[0]
    client = Client()
    _password_step(client, support_user.username)
    assert client.post(reverse("mfa_authenticate"), {"code": code}).status_code == 302
    assert client.get("/admin/").status_code == 200

    again = Client()
    _password_step(again, support_user.username)
    response = again.post(reverse("mfa_authenticate"), {"code": code})
    assert response.status_code == 200
    assert _signed_in_user_id(again) is None
    assert code not in recovery_codes(support_user)


def test_a_staff_member_without_a_second_factor_can_only_set_one_up(django_capture_on_commit_callbacks: Any) -> None:
    staff = UserFactory(is_staff=True)
    staff.groups.add(Group.objects.get(name="Support"))
    client = Client()
    response = _password_step(client, staff.username)
    assert _signed_in_user_id(client) == str(staff.pk)  # password only: no authenticator yet
    for url in ("/admin/", "/admin/accounts/user/", reverse("accounts:profile"), "/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == reverse("mfa_index"), url
    assert client.get(reverse("mfa_index")).status_code == 200

    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 302
    assert page["Location"].startswith(reverse("account_reauthenticate"))
    _reauthenticate(client)
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    secret = client.session["mfa.totp.secret"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=staff, type="totp").exists()
    assert client.get("/admin/").status_code == 200


def test_a_role_member_without_the_staff_flag_needs_a_second_factor_too(member: User) -> None:
    member.groups.add(Group.objects.get(name="Privacy officer"))
    client = Client()
    client.force_login(member)
    response = client.get(reverse("accounts:profile"))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")


def test_a_session_that_skipped_the_second_factor_is_ended(support_user: User) -> None:
    client = Client()
    client.force_login(support_user)  # outside allauth's flow: no MFA step recorded
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert _signed_in_user_id(client) is None


def _admin_urls() -> list[str]:
    """Every URL pattern of the admin, with sample values for its arguments."""
    found: list[str] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for pattern in patterns:
            route = str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + route)
            elif isinstance(pattern, URLPattern):
                found.append(prefix + route)

    walk(admin.site.get_urls(), "admin/")
    return sorted(set(found))


def _concrete(route: str) -> str:
    import re

    url = "/" + route.lstrip("^").rstrip("$")
    url = re.sub(r"<path:object_id>", "1", url)
    url = re.sub(r"<int:[^>]+>", "1", url)
    url = re.sub(r"<(?:str:)?[^>]+>", "x", url)
    url = re.sub(r"\(\?P<[^>]+>[^)]*\)", "accounts", url)
    return url


ADMIN_URLS = _admin_urls()


@pytest.mark.parametrize("route", ADMIN_URLS)
def test_every_admin_url_needs_the_second_factor_for_every_staff_role(
    route: str, request: pytest.FixtureRequest
) -> None:
    url = _concrete(route)
    if url.startswith("/admin/logout/"):
        return  # signing out is always allowed (POST only in the admin)
    for role in STAFF_ROLES:
        user = request.getfixturevalue(role)
        # with an authenticator, but this session never used it
        client = Client()
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 302, (role, url, response.status_code)
        assert response["Location"].startswith(reverse("account_login")), (role, url)
    # without any authenticator: sent to set one up
    bare = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(bare)
    response = client.get(url)
    assert response.status_code == 302, url
    assert response["Location"] == reverse("mfa_index"), url
    # and the same URL is not refused for MFA once the second factor was used
    response = sign_in(Client(), request.getfixturevalue("superuser")).get(url)
    assert not (response.status_code == 302 and response["Location"] == reverse("mfa_index")), url
    assert not (response.status_code == 302 and response["Location"].startswith(reverse("account_login"))), url


def test_the_admin_url_list_is_the_whole_admin() -> None:
    assert len(ADMIN_URLS) > 100
    assert "admin/" in ADMIN_URLS
    assert any("accounts/user/" in route for route in ADMIN_URLS)


# --- sessions ---------------------------------------------------------------------------------------------
def test_an_idle_staff_session_ends(support_user: User, settings: Any) -> None:
    settings.STAFF_SESSION_IDLE_SECONDS = 1800
    client = sign_in(Client(), support_user)
    assert client.get("/admin/").status_code == 200
    session = client.session
    session[staff_security.SEEN_KEY] = int(time.time()) - 1790
    session.save()
    assert client.get("/admin/").status_code == 200  # within the limit; the clock restarts
    session = client.session
    session[staff_security.SEEN_KEY] = int(time.time()) - 1801
    session.save()
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert _signed_in_user_id(client) is None


def test_an_idle_member_session_does_not_end(member: User) -> None:
    client = sign_in(Client(), member)
    session = client.session
    session[staff_security.SEEN_KEY] = int(time.time()) - 10 * 3600
    session.save()
    assert client.get(reverse("accounts:profile")).status_code == 200


def test_an_mfa_change_ends_the_other_staff_sessions(
    privacy_officer_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    here = sign_in(Client(), privacy_officer_user)
    elsewhere = sign_in(Client(), privacy_officer_user)
    assert here.get("/admin/").status_code == 200
    assert elsewhere.get("/admin/").status_code == 200

    _reauthenticate(here)
    with django_capture_on_commit_callbacks(execute=True):
        response = here.post(reverse("mfa_generate_recovery_codes"))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    assert here.get("/admin/").status_code == 200  # the session that made the change stays
    response = elsewhere.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert _signed_in_user_id(elsewhere) is None


def test_a_password_change_ends_the_other_staff_sessions(support_user: User) -> None:
    here = sign_in(Client(), support_user)
    elsewhere = sign_in(Client(), support_user)
    response = here.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": "a-new-long-password-77", "password2": "a-new-long-password-77"},
    )
    assert response.status_code == 302
    assert here.get("/admin/").status_code == 200
    assert elsewhere.get("/admin/").status_code == 302
    assert _signed_in_user_id(elsewhere) is None


# --- a new browser is reported ----------------------------------------------------------------------------
def _full_sign_in(client: Client, user: User, code: str, capture: Any) -> None:
    _password_step(client, user.username)
    with capture(execute=True):
        response = client.post(reverse("mfa_authenticate"), {"code": code})
    assert response.status_code == 302, response.content[:300]


def test_a_sign_in_from_a_new_browser_emails_the_staff_member(
    support_user: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    codes = recovery_codes(support_user)  # three sign-ins, three distinct codes (each works once)
    browser = Client(HTTP_USER_AGENT="Mozilla/5.0 TestBrowser")
    _full_sign_in(browser, support_user, codes[0], capture)
    assert [m.to for m in mail.outbox] == [[support_user.email]]
    assert "new browser" in mail.outbox[0].body
    assert "TestBrowser" in mail.outbox[0].body
    assert StaffBrowser.objects.filter(user=support_user).count() == 1
    assert browser.cookies[staff_security.BROWSER_COOKIE].value

    browser.post(reverse("account_logout"))
    _full_sign_in(browser, support_user, codes[1], capture)  # the same browser again: no email
    assert len(mail.outbox) == 1

    _full_sign_in(Client(), support_user, codes[2], capture)  # another browser
    assert len(mail.outbox) == 2
    assert StaffBrowser.objects.filter(user=support_user).count() == 2


def test_a_members_sign_in_sets_no_staff_browser_cookie(member: User) -> None:
    client = Client()
    _password_step(client, member.username)
    assert _signed_in_user_id(client) == str(member.pk)
    assert staff_security.BROWSER_COOKIE not in client.cookies
    assert not StaffBrowser.objects.exists()
    assert mail.outbox == []


# --- who is offered MFA -----------------------------------------------------------------------------------
def test_an_adult_member_may_turn_on_mfa(member: User, django_capture_on_commit_callbacks: Any) -> None:
    client = sign_in(Client(), member)
    assert client.get(reverse("mfa_index")).status_code == 200
    _reauthenticate(client)
    client.get(reverse("mfa_activate_totp"))
    secret = client.session["mfa.totp.secret"]
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)}).status_code == 302
    assert Authenticator.objects.filter(user=member, type="totp").exists()
    assert client.get(reverse("accounts:profile")).status_code == 200  # no staff rules for a member
    for name in ("mfa_index", "mfa_view_recovery_codes", "mfa_list_webauthn", "mfa_add_webauthn"):
        assert client.get(reverse(name)).status_code == 200, name


def test_children_and_school_accounts_are_not_offered_mfa() -> None:
    from tests.analytics.helpers import make_parental_child, make_school_child

    for child in (make_parental_child(), make_school_child()):
        client = sign_in(Client(), child)
        for url in (reverse("mfa_index"), reverse("mfa_activate_totp"), reverse("mfa_add_webauthn")):
            assert client.get(url).status_code == 404, url
        assert not Authenticator.objects.filter(user=child).exists()


# --- the demo: each staff login has a second factor and a current-code helper -----------------------------
def test_the_demo_staff_logins_sign_in_with_the_printed_code(settings: Any) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    from mindomo.demo import DEMO_PASSWORD, load_all

    load_all()
    logins = load_all()  # idempotent: the same secrets the second time
    factors = {row.role: row.login for row in logins if row.role.startswith("second factor of")}
    assert set(factors) == {f"second factor of {name}" for name in ("admin", "support", "privacy", "clerk")}
    for name in ("admin", "support", "privacy", "clerk"):
        user = User.objects.get(username=name)
        assert Authenticator.objects.filter(user=user, type="totp").count() == 1
        assert Authenticator.objects.filter(user=user, type="recovery_codes").count() == 1

    settings.DEBUG = True
    out = StringIO()
    call_command("demo_totp", "support", stdout=out, stderr=StringIO())
    code = out.getvalue().strip()
    assert len(code) == 6
    assert code.isdigit()
    client = Client()
    response = client.post(reverse("account_login"), {"login": "support", "password": DEMO_PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.post(reverse("mfa_authenticate"), {"code": code}).status_code == 302
    assert client.get("/admin/").status_code == 200

    settings.DEBUG = False
    with pytest.raises(CommandError):
        call_command("demo_totp", "support", stdout=StringIO())


def test_the_profile_offers_mfa_to_adults_only(member: User) -> None:
    from tests.analytics.helpers import make_parental_child, make_school_child

    link = reverse("mfa_index")
    assert link in sign_in(Client(), member).get(reverse("accounts:profile")).content.decode()
    for child in (make_parental_child(), make_school_child()):
        assert link not in sign_in(Client(), child).get(reverse("accounts:profile")).content.decode()
