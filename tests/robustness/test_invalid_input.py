"""Invalid text in any part of a request gets a 400 (one middleware), unconfigured providers a 404, empty posts
a form error: never a 500, and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from grading.models import Grade
from tests.billing.helpers import paid_invoice
from tests.support.mfa import sign_in


def _client(user: Any = None) -> Client:
    client = Client(raise_request_exception=False)
    if user is not None:
        sign_in(client, user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/billing/invoices/INV%00/",  # the example: a NUL byte in an invoice number
        "/grading/invitations/a%00b/",
        "/privacy/policy-consent/%01%02/",
        "/billing/invoices/%FF%FE/",  # invalid UTF-8
        "/billing/invoices/%ED%A0%80/",  # a lone surrogate, UTF-8-encoded
        "/account/profile/%0A/",
    ],
)
def test_invalid_text_in_the_path_is_a_400(path: str, member: Any) -> None:
    response = _client(member).get(path)
    assert response.status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["next=%00", "q=%FF", "a%00=1", "next=%C0%AF", "x=\x1b", "x=%ED%A0%80"])
def test_invalid_text_in_the_query_string_is_a_400(query: str, member: Any) -> None:
    response = _client(member).get(f"/account/profile/?{query}")
    assert response.status_code == 400


@pytest.mark.django_db
def test_valid_text_passes_untouched(member: Any) -> None:
    """Accents, emoji, right-to-left marks, tabs and line breaks in a textarea are text, not attacks."""
    client = _client(member)
    assert client.get("/account/profile/?q=Zo%C3%AB%20%F0%9F%98%80%E2%80%8F").status_code == 200
    response = client.post(
        reverse("accounts:support"),
        {"name": "Zoë Dupré", "email": "zoe@example.com", "topic": "other", "message": "Bonjour,\r\n\tça va ? 😀"},
    )
    assert response.status_code == 302
    from accounts.models import SupportInquiry

    assert SupportInquiry.objects.get().message == "Bonjour,\r\n\tça va ? 😀"


@pytest.mark.django_db
def test_nul_in_a_gradebook_feedback_cell_is_a_400_and_changes_nothing(settings: Any) -> None:
    """The issue's example: a NUL byte in a feedback cell was a database error (500)."""
    from tests.robustness.world import build_world

    built = build_world()
    teacher = built.users["teacher"]
    grade = Grade.objects.get()
    class_id = built.params["class_id"][0]
    name = f"feedback-{grade.student_id}-{grade.assignment_id}"
    response = _client(teacher).post(
        f"/grading/classes/{class_id}/", {name: "good\x00work", f"score-{grade.student_id}-{grade.assignment_id}": "3"}
    )
    assert response.status_code == 400
    grade.refresh_from_db()
    assert grade.feedback == "Good"


@pytest.mark.django_db
def test_nul_in_a_multipart_field_is_a_400(member: Any) -> None:
    from accounts.models import SupportInquiry

    client = _client(member)
    assert client.post(reverse("accounts:support"), {"name": "a\x00b", "email": "a@example.com"}).status_code == 400
    assert client.post(reverse("accounts:support"), {"na\x00me": "x"}).status_code == 400
    assert not SupportInquiry.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"name=a%00b&email=x", b"name=%FF&email=x", b"na%00me=x", b"name=ok&email=\x00"])
def test_invalid_text_in_a_posted_form_is_a_400_and_nothing_is_kept(body: bytes, member: Any) -> None:
    from accounts.models import SupportInquiry

    response = _client(member).generic(
        "POST", reverse("accounts:support"), body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert not SupportInquiry.objects.exists()


@pytest.mark.django_db
def test_a_bad_cookie_is_a_400_that_expires_the_cookie(member: Any) -> None:
    client = _client(member)
    client.cookies["mindomo_age"] = "abc\x00def"
    response = client.get("/account/profile/")
    assert response.status_code == 400
    assert response.cookies["mindomo_age"]["max-age"] == 0
    # the browser drops it; the next request goes through, still signed in
    del client.cookies["mindomo_age"]
    assert client.get("/account/profile/").status_code == 200


@pytest.mark.django_db
def test_a_nul_session_cookie_is_a_400_not_a_database_error() -> None:
    client = _client()
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"
    assert client.get("/account/profile/").status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("provider", ["google", "facebook", "microsoft", "yahoo"])
def test_an_unconfigured_provider_answers_404_on_every_url(provider: str, member: Any) -> None:
    from tests.robustness.test_fuzz import patterns

    paths = [p.template for p in patterns() if p.template.startswith(f"/accounts/{provider}/")]
    assert len(paths) >= 2  # sign-in and callback at least
    for path in paths:
        for client in (_client(), _client(member)):
            assert client.get(path).status_code == 404, path
            assert client.post(path, {"process": "login"}).status_code == 404, path
            assert client.get(f"{path}?code=x&state=y").status_code == 404, path


@pytest.mark.django_db
def test_a_configured_provider_still_signs_in(fake_microsoft: Any) -> None:
    response = _client().post("/accounts/microsoft/login/", {"process": "login"})
    assert response.status_code == 302
    assert response["Location"].startswith(fake_microsoft.url)


@pytest.mark.django_db
def test_an_empty_post_to_the_student_sign_in_is_a_form_error() -> None:
    response = _client().post(reverse("grading:student_sign_in"), {})
    assert response.status_code == 400
    assert response.context["form"].errors["username"]


@pytest.mark.django_db
def test_a_bare_word_as_next_after_accepting_the_policy_stays_on_the_site(member: Any) -> None:
    """redirect() took 'abc' for a view name (NoReverseMatch, a 500)."""
    from datetime import timedelta

    from django.utils import timezone

    from privacy import services as privacy_services
    from privacy.models import PolicyVersion

    version = PolicyVersion.objects.create(
        version="2026-12-01", effective_at=timezone.now() - timedelta(minutes=1), material=True, summary="New."
    )
    privacy_services.policy_publish(version=version)
    assert privacy_services.policy_version_requiring_acceptance(member) == version
    response = _client(member).post(reverse("privacy:policy_accept"), {"next": "abc", "accept": "on"})
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_adding_a_site_in_the_admin_does_not_collide_with_the_first_one(superuser: Any) -> None:
    response = _client(superuser).post("/admin/sites/site/add/", {"domain": "other.example", "name": "Other"})
    assert response.status_code == 302


@pytest.mark.django_db
def test_an_invoice_with_a_nul_appended_is_a_400_and_the_real_one_still_opens(member: Any) -> None:
    invoice = paid_invoice(member)
    client = _client(member)
    assert client.get(f"/billing/invoices/{invoice.number}%00/").status_code == 400
    assert client.get(f"/billing/invoices/{invoice.number}/").status_code == 200


@pytest.mark.django_db
def test_the_400_is_our_page_even_for_a_signed_in_visitor_with_a_parent_session(member: Any) -> None:
    """The page renders with the menu's context processors (session, user) though the middleware runs before
    the session and authentication middlewares: it gets an empty session and an anonymous user, nothing sent."""
    from consent.portal import session as portal_session

    client = _client(member)
    session = client.session
    session[portal_session.SESSION_KEY] = {"email": "parent@example.com", "until": 4102444800}
    session.save()
    response = client.get("/consent/parent/%00/abc/?next=%FF")
    assert response.status_code == 400
    assert "400.html" in [t.name for t in response.templates]
    assert response.get("Content-Type", "").startswith("text/html")
