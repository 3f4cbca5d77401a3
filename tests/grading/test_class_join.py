"""A student with their own account joins a class by its code; a child only after a parent approves from an
emailed link (a consent ledger event); until then the school sees nothing of the child."""

from __future__ import annotations

import re
import time
from typing import Any
from unittest import mock

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from accounts.models import User
from consent.models import ConsentRecord, Guardian, LedgerEntry
from grading import selectors, services
from grading.models import ClassJoinRequest, Enrollment, SchoolClass
from schools.models import SchoolMembership
from tests.accounts.factories import UserFactory
from tests.consent.portal_helpers import consented_child
from tests.grading.factories import MembershipFactory, SchoolFactory
from tests.support.roles import make_school_student

pytestmark = pytest.mark.django_db

MUM = "mum@example.org"
DAD = "dad@example.org"


@pytest.fixture
def school_class() -> SchoolClass:
    school = SchoolFactory(name="Maple Grove")
    teacher = MembershipFactory(school=school, role="teacher", user=UserFactory(first_name="Grace", last_name="Hopper"))
    return services.class_create(teacher=teacher.user, school=school, name="Science 5B")


@pytest.fixture
def child() -> User:
    return consented_child("lina2016", MUM)


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _join(client: Client, code: str, capture: Any) -> Any:
    with capture(execute=True):
        return client.post(reverse("grading:class_join"), {"code": code})


def _answer_link(to: str) -> str:
    for message in reversed(mail.outbox):
        if to in message.to:
            match = re.search(r"https?://\S+(/grading/join/answer/\S+/)", message.body)
            assert match, message.body
            return match.group(1)
    raise AssertionError(f"nothing was sent to {to}")


def _enrolled(user: User, school_class: SchoolClass) -> bool:
    return Enrollment.objects.filter(school_class=school_class, student=user).exists()


def test_the_teacher_sees_the_code_and_can_replace_it(school_class: SchoolClass) -> None:
    teacher = _client(school_class.teacher)
    page = teacher.get(reverse("grading:class_students", args=[school_class.pk])).content.decode()
    code = services.join_code_display(school_class.join_code)
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    assert code in page
    teacher.post(reverse("grading:class_join_code_renew", args=[school_class.pk]))
    school_class.refresh_from_db()
    assert services.join_code_display(school_class.join_code) != code


def test_another_teacher_cannot_replace_the_code(school_class: SchoolClass) -> None:
    before = school_class.join_code
    other = MembershipFactory(school=school_class.school, role="teacher").user
    response = _client(other).post(reverse("grading:class_join_code_renew", args=[school_class.pk]))
    school_class.refresh_from_db()
    assert response.status_code == 404
    assert school_class.join_code == before


def test_an_adult_joins_at_once_with_the_code_typed_loosely(
    school_class: SchoolClass, django_capture_on_commit_callbacks: Any
) -> None:
    adult = UserFactory()
    typed = services.join_code_display(school_class.join_code).lower().replace("-", " ")
    response = _join(_client(adult), typed, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert _enrolled(adult, school_class)
    assert SchoolMembership.objects.filter(school=school_class.school, user=adult, role="student").exists()
    assert mail.outbox == []


def test_a_child_waits_for_a_parent_and_the_school_sees_nothing_before(
    school_class: SchoolClass, child: User, django_capture_on_commit_callbacks: Any
) -> None:
    mail.outbox.clear()
    response = _join(_client(child), school_class.join_code, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert not _enrolled(child, school_class)
    assert not SchoolMembership.objects.filter(user=child).exists()
    assert not selectors.grade_list_visible_to(viewer=school_class.teacher).filter(student=child).exists()
    (message,) = mail.outbox
    assert message.to == [MUM]
    for expected in ("lina2016", "Science 5B", "Maple Grove"):
        assert expected in message.body
    assert "Grace Hopper" in message.body
    # the child sees the request waiting
    page = _client(child).get(reverse("grading:class_join")).content.decode()
    assert "Waiting for a parent&#x27;s approval" in page or "Waiting for a parent's approval" in page
    # the teacher sees the username waiting, nothing else
    teacher_page = _client(school_class.teacher).get(reverse("grading:class_students", args=[school_class.pk]))
    assert "lina2016" in teacher_page.content.decode()


def test_the_parent_approves_the_child_joins_and_the_ledger_says_so(
    school_class: SchoolClass, child: User, django_capture_on_commit_callbacks: Any
) -> None:
    _join(_client(child), school_class.join_code, django_capture_on_commit_callbacks)
    link = _answer_link(MUM)
    parent = Client()
    page = parent.get(link)
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "strict-origin"
    assert "Science 5B" in page.content.decode()
    assert not _enrolled(child, school_class)  # opening the link decides nothing

    done = parent.post(link, {"decision": "approve"})
    assert done.status_code == 200
    assert _enrolled(child, school_class)
    assert SchoolMembership.objects.filter(school=school_class.school, user=child, role="student").exists()
    assert ClassJoinRequest.objects.get(student=child).status == ClassJoinRequest.Status.JOINED
    entry = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CLASS_APPROVED).get()
    assert entry.detail == {"school": school_class.school.pk, "class": "Science 5B"}
    assert entry.actor not in ("", "system", MUM)  # the parent's pseudonym, never the address

    again = parent.post(link, {"decision": "decline"})
    assert again.status_code == 410
    assert _enrolled(child, school_class)


def test_the_parent_declines_nothing_reaches_the_school(
    school_class: SchoolClass, child: User, django_capture_on_commit_callbacks: Any
) -> None:
    _join(_client(child), school_class.join_code, django_capture_on_commit_callbacks)
    Client().post(_answer_link(MUM), {"decision": "decline"})
    assert not _enrolled(child, school_class)
    assert not SchoolMembership.objects.filter(user=child).exists()
    assert ClassJoinRequest.objects.get(student=child).status == ClassJoinRequest.Status.DECLINED
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CLASS_DECLINED).count() == 1


def test_both_parents_are_asked_and_the_first_answer_counts(
    school_class: SchoolClass, child: User, django_capture_on_commit_callbacks: Any
) -> None:
    Guardian.objects.create(record=ConsentRecord.objects.get(child=child), email=DAD)
    _join(_client(child), school_class.join_code, django_capture_on_commit_callbacks)
    mum_link, dad_link = _answer_link(MUM), _answer_link(DAD)
    Client().post(dad_link, {"decision": "approve"})
    assert _enrolled(child, school_class)
    assert Client().post(mum_link, {"decision": "decline"}).status_code == 410
    assert LedgerEntry.objects.filter(kind__in=["class_approved", "class_declined"]).count() == 1


@pytest.mark.parametrize("tamper", ["flip", "expired", "garbage"])
def test_a_tampered_or_expired_link_decides_nothing(
    school_class: SchoolClass, child: User, django_capture_on_commit_callbacks: Any, tamper: str, settings: Any
) -> None:
    _join(_client(child), school_class.join_code, django_capture_on_commit_callbacks)
    link = _answer_link(MUM)
    token = link.rstrip("/").rsplit("/", 1)[1]
    if tamper == "flip":
        token = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    elif tamper == "expired":
        token = _backdated(token)
    else:
        token = "x" * 40
    response = Client().post(reverse("grading:class_join_answer", args=[token]), {"decision": "approve"})
    assert response.status_code == 410
    assert not _enrolled(child, school_class)
    assert not LedgerEntry.objects.filter(kind__in=["class_approved", "class_declined"]).exists()


def _backdated(token: str) -> str:
    """The same payload signed eight days ago (TimestampSigner reads time.time())."""
    payload = signing.loads(token, salt=services.JOIN_SALT)
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 8 * 24 * 3600):
        return signing.dumps(payload, salt=services.JOIN_SALT, compress=True)


def test_an_unknown_code_says_so_and_creates_nothing(
    child: User, school_class: SchoolClass, django_capture_on_commit_callbacks: Any
) -> None:
    mail.outbox.clear()
    response = _join(_client(child), "ZZZZ-ZZZZ", django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert "No class has this code" in response.content.decode()
    assert not ClassJoinRequest.objects.exists()
    assert mail.outbox == []


def test_a_school_registered_account_is_sent_to_its_teacher(school_class: SchoolClass) -> None:
    student = make_school_student(school_class.school)
    with pytest.raises(Exception, match="Your school looks after your classes"):
        services.class_join(student=student, code=school_class.join_code or "")
    response = _client(student).get(reverse("grading:class_join"))
    assert response.status_code == 302
    assert not ClassJoinRequest.objects.exists()


def test_guessing_codes_is_stopped(
    child: User, school_class: SchoolClass, django_capture_on_commit_callbacks: Any
) -> None:
    client = _client(child)
    for n in range(services.JOIN_ATTEMPTS_PER_HOUR):
        _join(client, f"AAAA{n:04d}", django_capture_on_commit_callbacks)
    response = _join(client, school_class.join_code or "", django_capture_on_commit_callbacks)
    assert "Too many codes tried" in response.content.decode()
    assert not ClassJoinRequest.objects.exists()


def test_the_childs_menu_offers_joining_a_class(child: User) -> None:
    html = _client(child).get(reverse("home")).content.decode()
    assert 'data-nav="join_class"' in html
