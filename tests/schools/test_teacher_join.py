"""Someone signs in with the school's Google or Microsoft account, matches nobody of the school, and asks to join as
a teacher; the school's administrators approve (the next school sign-in lands in the teacher's account) or decline.
Through the local fakes of the providers' endpoints; nothing of the provider is stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from mindomo.outbox.models import Delivery
from mindomo.privacy import registry
from privacy import services as privacy_services
from schools import services
from schools.models import School, SchoolMembership, SchoolStudentAccount, TeacherJoinRequest
from tests.accounts.factories import UserFactory
from tests.schools.conftest import (
    PROFILE_SECRETS,
    TENANT,
    SchoolWorld,
    nothing_of_the_provider_is_stored,
    school_domain,
    through_provider,
)
from tests.support.fake_oauth import FakeGoogle

EMAIL = "hopper@school.example"


def _google_claims(fake: FakeGoogle, email: str = EMAIL, **extra: Any) -> None:
    fake.claims = {
        "sub": "4242",
        "hd": "school.example",
        "email": email,
        "email_verified": True,
        "given_name": "Grace",
        "family_name": "Hopper",
        "picture": f"https://lh3.example/{PROFILE_SECRETS[0]}",
        "locale": PROFILE_SECRETS[1],
        **extra,
    }


def _ask(client: Client, **data: Any) -> Any:
    return client.post(reverse("schools:join"), {"first_name": "Grace", "last_name": "Hopper", "teacher": "on", **data})


def _join_page(sw: SchoolWorld, fake: FakeGoogle, email: str = EMAIL) -> Client:
    """A person of the domain whom nobody of the school matches, on the page to ask to join."""
    _google_claims(fake, email)
    client = Client()
    response = through_provider(client, email, fake.url)
    assert (response.status_code, response["Location"]) == (302, reverse("schools:join"))
    return client


def _answer(sw: SchoolWorld, join_request: TeacherJoinRequest, answer: str, admin: User | None = None) -> Any:
    client = sw.client(admin or sw.admin)
    return client.post(reverse("schools:join_answer", args=[sw.school.pk, join_request.pk]), {"answer": answer})


def test_an_unrostered_teacher_asks_to_join_and_after_approval_signs_in_to_their_teacher_account(
    sw: SchoolWorld, fake_google: FakeGoogle
) -> None:
    school_domain(sw, "google")
    User.objects.filter(pk=sw.admin.pk).update(language="ro")
    client = _join_page(sw, fake_google)

    page = client.get(reverse("schools:join"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Ask to join Maple Grove as a teacher" in html
    assert EMAIL in html
    assert 'value="Grace"' in html  # the name the school's account gave, to correct if needed
    assert "Ask your teacher to add you to Mindomo" in html  # the words for a student
    assert "_auth_user_id" not in client.session  # the sign-in made no account and signed nobody in

    response = _ask(client)
    assert response.status_code == 200
    assert "Your request was sent" in response.content.decode()
    join_request = TeacherJoinRequest.objects.get()
    assert (join_request.email, join_request.first_name, join_request.last_name, join_request.status) == (
        EMAIL,
        "Grace",
        "Hopper",
        "pending",
    )
    assert not User.objects.filter(email__iexact=EMAIL).exists()  # a request, not an account
    notice = Delivery.objects.get(kind="schools.teacher_join_request")
    assert notice.to_email == sw.admin.email
    assert notice.language == "ro"  # the administrator's language
    assert "Grace Hopper" in notice.subject
    assert "profesor" in notice.subject
    assert reverse("grading:school_roster", args=[sw.school.pk]) in notice.text_body

    roster = sw.client(sw.admin).get(reverse("grading:school_roster", args=[sw.school.pk])).content.decode()
    assert "Aprobați ca profesor: Grace Hopper" in roster  # the administrator's language
    assert "Refuzați: Grace Hopper" in roster
    response = _answer(sw, join_request, "approve")
    assert response.status_code == 302
    teacher = User.objects.get(email__iexact=EMAIL)
    assert (teacher.first_name, teacher.last_name, teacher.has_usable_password()) == ("Grace", "Hopper", False)
    assert SchoolMembership.objects.filter(school=sw.school, user=teacher, role="teacher").exists()
    assert EmailAddress.objects.filter(user=teacher, email=EMAIL, verified=True, primary=True).exists()
    join_request.refresh_from_db()
    assert (join_request.status, join_request.teacher_id, join_request.answered_by_id) == (
        "approved",
        teacher.pk,
        sw.admin.pk,
    )
    told = Delivery.objects.get(kind="schools.teacher_join_answer")
    assert told.to_email == EMAIL
    assert "You are now a teacher of Maple Grove" in told.subject  # the language the person asked in (en)

    # the next sign-in with the school's Google account lands in the teacher's account
    _google_claims(fake_google)
    again = Client()
    response = through_provider(again, EMAIL, fake_google.url)
    assert (response.status_code, response["Location"]) == (302, reverse("grading:index"))
    assert again.session["_auth_user_id"] == str(teacher.pk)
    nothing_of_the_provider_is_stored()


def test_a_teacher_of_the_schools_microsoft_tenant_asks_and_is_approved(sw: SchoolWorld, fake_microsoft: Any) -> None:
    school_domain(sw, "microsoft")
    fake_microsoft.tenant = TENANT
    fake_microsoft.profile = {
        **fake_microsoft.profile,
        "givenName": "Katherine",
        "surname": "Johnson",
        "mail": "johnson@school.example",
        "userPrincipalName": "johnson@school.example",
        "jobTitle": PROFILE_SECRETS[2],
    }
    client = Client()
    response = through_provider(client, "johnson@school.example", fake_microsoft.url)
    assert (response.status_code, response["Location"]) == (302, reverse("schools:join"))
    assert _ask(client, first_name="Katherine", last_name="Johnson").status_code == 200
    assert _answer(sw, TeacherJoinRequest.objects.get(), "approve").status_code == 302

    again = Client()
    response = through_provider(again, "johnson@school.example", fake_microsoft.url)
    assert response.status_code == 302
    assert again.session["_auth_user_id"] == str(User.objects.get(email="johnson@school.example").pk)
    nothing_of_the_provider_is_stored()


def test_a_declined_request_tells_the_person_and_creates_nothing(sw: SchoolWorld, fake_google: FakeGoogle) -> None:
    school_domain(sw, "google")
    client = _join_page(sw, fake_google)
    client.cookies["django_language"] = "de"
    response = client.post(
        reverse("schools:join"),
        {"first_name": "Grace", "last_name": "Hopper", "teacher": "on"},
        HTTP_ACCEPT_LANGUAGE="de",
    )
    assert response.status_code == 200
    join_request = TeacherJoinRequest.objects.get()
    users, memberships = User.objects.count(), SchoolMembership.objects.count()

    response = _answer(sw, join_request, "decline")
    assert response.status_code == 302
    join_request.refresh_from_db()
    assert join_request.status == "declined"
    assert (User.objects.count(), SchoolMembership.objects.count()) == (users, memberships)
    told = Delivery.objects.get(kind="schools.teacher_join_answer")
    assert (told.to_email, told.language) == (EMAIL, "de")  # in the language the person asked in
    assert "abgelehnt" in told.subject

    # signing in again still lands nowhere: the person is back on the page to ask
    assert through_provider(Client(), EMAIL, fake_google.url)["Location"] == reverse("schools:join")


def test_the_page_tells_a_student_to_ask_their_teacher_and_nobody_is_asked_without_the_box(
    sw: SchoolWorld, fake_google: FakeGoogle
) -> None:
    school_domain(sw, "google")
    client = _join_page(sw, fake_google, email="mia@school.example")
    html = client.get(reverse("schools:join")).content.decode()
    assert "Are you a student?" in html
    assert "This page is only for teachers." in html
    assert "Ask your teacher to add you to Mindomo" in html

    response = client.post(reverse("schools:join"), {"first_name": "Mia", "last_name": "Khan"})
    assert response.status_code == 400
    assert "Tick the box if you are a teacher at this school." in response.content.decode()
    assert TeacherJoinRequest.objects.count() == 0
    assert Delivery.objects.count() == 0


@pytest.mark.parametrize(
    "claims",
    [
        {"hd": None},  # a personal Google account: no hd
        {"hd": "other.example"},
        {"email": "grace@gmail.example"},
        {"email_verified": False},
    ],
)
def test_a_personal_or_foreign_account_cannot_ask_to_join(
    sw: SchoolWorld, fake_google: FakeGoogle, claims: dict[str, Any]
) -> None:
    school_domain(sw, "google")
    _google_claims(fake_google, **claims)
    fake_google.claims = {k: v for k, v in fake_google.claims.items() if v is not None}
    client = Client()
    response = through_provider(client, EMAIL, fake_google.url)
    assert response.status_code == 403
    response = _ask(client)
    assert (response.status_code, response["Location"]) == (302, reverse("schools:sign_in"))
    assert TeacherJoinRequest.objects.count() == 0
    assert "_auth_user_id" not in client.session
    nothing_of_the_provider_is_stored()


def test_the_join_page_without_a_school_sign_in_sends_to_the_school_sign_in(db: Any) -> None:
    client = Client()
    for method in (client.get, client.post):
        response = method(reverse("schools:join"))
        assert (response.status_code, response["Location"]) == (302, reverse("schools:sign_in"))
    assert TeacherJoinRequest.objects.count() == 0


def test_a_double_submit_and_a_second_request_from_the_same_address_are_refused(
    sw: SchoolWorld, fake_google: FakeGoogle
) -> None:
    school_domain(sw, "google")
    client = _join_page(sw, fake_google)
    assert _ask(client).status_code == 200
    response = _ask(client)  # the same page sent twice: the same answer, nothing more written
    assert response.status_code == 200
    assert "Your request was sent" in response.content.decode()
    second = _join_page(sw, fake_google)  # another sign-in, another browser
    response = _ask(second)
    assert response.status_code == 400
    assert "You have already asked to join Maple Grove as a teacher" in response.content.decode()
    assert TeacherJoinRequest.objects.count() == 1
    assert Delivery.objects.filter(kind="schools.teacher_join_request").count() == 1


def test_approving_twice_or_declining_an_approved_request_writes_nothing(
    sw: SchoolWorld, fake_google: FakeGoogle
) -> None:
    school_domain(sw, "google")
    assert _ask(_join_page(sw, fake_google)).status_code == 200
    join_request = TeacherJoinRequest.objects.get()
    assert _answer(sw, join_request, "approve").status_code == 302
    counts = (User.objects.count(), SchoolMembership.objects.count(), Delivery.objects.count())
    for answer, message in (("approve", "already approved"), ("decline", "already approved"), ("maybe", "Choose")):
        response = _answer(sw, join_request, answer)
        assert response.status_code == 302
        page = response.client.get(response["Location"]).content.decode()
        assert message in page
    assert (User.objects.count(), SchoolMembership.objects.count(), Delivery.objects.count()) == counts
    join_request.refresh_from_db()
    assert join_request.status == "approved"


def test_a_request_for_a_domain_no_longer_verified_is_not_approved(sw: SchoolWorld, fake_google: FakeGoogle) -> None:
    domain = school_domain(sw, "google")
    client = _join_page(sw, fake_google)
    domain.verified_at = None
    domain.save(update_fields=["verified_at"])
    response = _ask(client)  # the page was open when the domain stopped being verified
    assert response.status_code == 400
    assert "not verified any more" in response.content.decode()
    assert TeacherJoinRequest.objects.count() == 0

    domain.verified_at = timezone.now()
    domain.save(update_fields=["verified_at"])
    assert _ask(_join_page(sw, fake_google)).status_code == 200
    join_request = TeacherJoinRequest.objects.get()
    domain.verified_at = None
    domain.save(update_fields=["verified_at"])
    users = User.objects.count()
    response = _answer(sw, join_request, "approve")
    assert response.status_code == 302
    assert "is not verified any more" in response.client.get(response["Location"]).content.decode()
    assert User.objects.count() == users
    join_request.refresh_from_db()
    assert join_request.status == "pending"


def test_only_this_schools_administrators_answer_and_tampered_ids_are_404(
    sw: SchoolWorld, fake_google: FakeGoogle
) -> None:
    school_domain(sw, "google")
    assert _ask(_join_page(sw, fake_google)).status_code == 200
    join_request = TeacherJoinRequest.objects.get()
    other_school = School.objects.create(name="Oak Hill", country="US", contact_email="office@oak.example")
    other_admin = UserFactory()
    SchoolMembership.objects.create(school=other_school, user=other_admin, role="admin")
    SchoolMembership.objects.create(school=sw.school, user=sw.teacher, role="teacher")
    foreign = sw.client(other_admin)
    attempts = [
        (foreign, reverse("schools:join_answer", args=[sw.school.pk, join_request.pk])),
        (foreign, reverse("schools:join_answer", args=[other_school.pk, join_request.pk])),  # its own school's URL
        (sw.client(sw.teacher), reverse("schools:join_answer", args=[sw.school.pk, join_request.pk])),
        (sw.client(sw.admin), reverse("schools:join_answer", args=[sw.school.pk, join_request.pk + 1000])),
    ]
    for client, url in attempts:
        assert client.post(url, {"answer": "approve"}).status_code == 404, url
        assert client.get(url).status_code in (404, 405)
    assert Client().post(attempts[0][1], {"answer": "approve"})["Location"].startswith(reverse("account_login"))
    join_request.refresh_from_db()
    assert join_request.status == "pending"
    assert not User.objects.filter(email__iexact=EMAIL).exists()
    other_page = foreign.get(reverse("grading:school_roster", args=[other_school.pk])).content.decode()
    assert EMAIL not in other_page


def test_request_creation_is_rate_limited(sw: SchoolWorld, fake_google: FakeGoogle, monkeypatch: Any) -> None:
    school_domain(sw, "google")
    monkeypatch.setattr(services, "JOIN_REQUESTS_PER_IP_PER_HOUR", 2)
    for n in range(2):
        assert _ask(_join_page(sw, fake_google, email=f"t{n}@school.example")).status_code == 200
    response = _ask(_join_page(sw, fake_google, email="t9@school.example"))
    assert response.status_code == 400
    assert "Too many requests to join" in response.content.decode()
    assert TeacherJoinRequest.objects.count() == 2


def test_an_address_held_by_a_school_registered_student_is_not_made_a_teacher(
    sw: SchoolWorld, fake_google: FakeGoogle
) -> None:
    school_domain(sw, "google")
    student = UserFactory(email=EMAIL)
    SchoolStudentAccount.objects.create(user=student, school=sw.school)
    assert _ask(_join_page(sw, fake_google)).status_code == 200
    response = _answer(sw, TeacherJoinRequest.objects.get(), "approve")
    assert "cannot become a teacher" in response.client.get(response["Location"]).content.decode()
    assert not SchoolMembership.objects.filter(user=student, role="teacher").exists()


def test_an_adult_with_a_confirmed_account_of_that_address_becomes_the_teacher(
    sw: SchoolWorld, fake_google: FakeGoogle
) -> None:
    school_domain(sw, "google")
    own = UserFactory(email=EMAIL)  # confirmed address (the factory's EmailAddress is verified)
    client = _join_page(sw, fake_google)
    assert _ask(client).status_code == 200
    _answer(sw, TeacherJoinRequest.objects.get(), "approve")
    assert SchoolMembership.objects.filter(school=sw.school, user=own, role="teacher").exists()
    assert User.objects.filter(email__iexact=EMAIL).count() == 1


def test_requests_are_deleted_by_the_retention_rule_after_their_period(
    sw: SchoolWorld, fake_google: FakeGoogle
) -> None:
    school_domain(sw, "google")
    assert _ask(_join_page(sw, fake_google)).status_code == 200
    old = TeacherJoinRequest.objects.get()
    assert _ask(_join_page(sw, fake_google, email="fresh@school.example")).status_code == 200
    TeacherJoinRequest.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=services.JOIN_REQUEST_RETENTION_DAYS + 1)
    )
    dry = {o.rule.name: set(o.pks) for o in privacy_services.retention_apply(now=timezone.now(), dry_run=True)}
    assert dry["schools.teacher_join_requests"] == {old.pk}
    privacy_services.retention_apply(now=timezone.now())
    assert list(TeacherJoinRequest.objects.values_list("email", flat=True)) == ["fresh@school.example"]


def test_erasing_the_approved_teachers_account_erases_their_request(
    sw: SchoolWorld, fake_google: FakeGoogle, erase_now: Any
) -> None:
    school_domain(sw, "google")
    assert _ask(_join_page(sw, fake_google)).status_code == 200
    _answer(sw, TeacherJoinRequest.objects.get(), "approve")
    exported = registry.export_user(User.objects.get(email=EMAIL))["schools"]["teacher_join_requests"]
    assert [(r["email"], r["status"]) for r in exported] == [(EMAIL, "approved")]
    erase_now(User.objects.get(email=EMAIL))
    assert not TeacherJoinRequest.objects.exists()
