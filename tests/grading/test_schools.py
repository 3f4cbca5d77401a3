"""School registration: students one by one or by CSV (all or nothing), login cards, teacher invitations."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from accounts.models import AccountDeletionRequest, User
from consent.models import ConsentRecord
from schools import services as school_services
from schools.models import SchoolMembership, SchoolStudentAccount, TeacherInvitation
from tests.accounts.factories import UserFactory
from tests.grading.conftest import SECRET_FEEDBACK, World, accept_policy
from tests.support.dbscan import tables_containing


def _upload(client: Client, world: World, content: bytes, name: str = "students.csv") -> Any:
    url = reverse("grading:student_import", args=[world.school.pk])
    return client.post(url, {"file": SimpleUploadedFile(name, content, content_type="text/csv")})


def _state() -> tuple[int, ...]:
    return (
        User.objects.count(),
        SchoolMembership.objects.count(),
        SchoolStudentAccount.objects.count(),
        ConsentRecord.objects.count(),
    )


def test_csv_import_registers_school_students_with_school_consent(world: World) -> None:
    csv_file = "first_name,last_name,username\nGrace,Hopper,\nAda,Lovelace,countess\nGrace,Hopper,grace2\nZoë,Ørsted,\n"
    response = _upload(world.client("teacher"), world, csv_file.encode())
    assert response.status_code == 200
    created = list(
        User.objects.filter(school_student_account__school=world.school).exclude(pk=world.student.pk).order_by("pk")
    )
    assert [(u.first_name, u.username) for u in created] == [
        ("Grace", "grace.h"),
        ("Ada", "countess"),
        ("Grace", "grace2"),
        ("Zoë", "zoe.o"),
    ]
    for user in created:
        assert user.email == ""
        assert user.product_updates is False
        assert not user.has_usable_password()
        assert SchoolMembership.objects.filter(user=user, school=world.school, role="student").exists()
        record = ConsentRecord.objects.get(child=user)
        assert (record.method, record.school_id, record.granted_by_id) == ("school", world.school.pk, world.teacher.pk)
    assert b"countess" in response.content
    assert b"Print login cards" in response.content


def test_generated_usernames_avoid_taken_ones(world: World) -> None:
    UserFactory(username="grace.h")
    UserFactory(username="Grace.H2")
    users = school_services.students_register(
        actor=world.admin, school=world.school, rows=[school_services.StudentRow("Grace", "Hopper")]
    )
    assert users[0].username == "grace.h3"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"first_name,last_name\n,Hopper\n", ["Line 2: the first name is missing."]),
        (b"first_name,last_name\nGrace,\n", ["Line 2: the last name is missing."]),
        (
            b"first_name,last_name\n" + b"G" * 151 + b",Hopper\n",
            ["Line 2: the first name is longer than 150 characters."],
        ),
        (
            b"first_name,last_name,username\nGrace,Hopper," + b"g" * 31 + b"\n",
            ["Line 2: the username is longer than 30 characters."],
        ),
        (
            b"first_name,last_name,username\nGrace,Hopper,gh\nAda,Lovelace,GH\n",
            ["Line 3: the username GH is also on line 2."],
        ),
        (
            b"first_name,last_name\nGrace,Hopper\ngrace,HOPPER\n",
            ["Line 3: grace HOPPER is also on line 2 (give each a username if they are two different students)."],
        ),
        (
            b"first_name,last_name,username\nGrace,Hopper,existing\n",
            ["Line 2: the username existing is already taken."],
        ),
        (
            b"first_name,last_name,username\nGrace,Hopper,bad name!\n",
            ["Line 2: a username may hold only letters, digits, dots, dashes and underscores."],
        ),
        (b"first_name,last_name\nGrace,Hopper,extra\n", ["Line 2: expected 2 columns, found 3."]),
        (
            b"first_name,last_name\nGrace,Hopper\n,\xc3\xa9\n,Lovelace\n",
            ["Line 3: the first name is missing.", "Line 4: the first name is missing."],
        ),
    ],
    ids=[
        "missing-first-name",
        "missing-last-name",
        "overlong-name",
        "overlong-username",
        "duplicate-username",
        "duplicate-student",
        "taken-username",
        "invalid-username",
        "wrong-column-count",
        "several-bad-lines",
    ],
)
def test_each_bad_row_is_reported_by_line_and_nothing_is_written(
    world: World, content: bytes, expected: list[str]
) -> None:
    UserFactory(username="existing")
    before = _state()
    response = _upload(world.client("admin"), world, content)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was added" in page
    for message in expected:
        assert message.replace("'", "&#x27;") in page
    assert _state() == before


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",  # an image
        b"\xff\xfe\x00\x00garbage",  # not UTF-8
        b"name;surname\nGrace;Hopper\n",  # not our columns
        b"",  # empty
        b'first_name,last_name\n"Grace,Hopper\n',  # broken quoting
    ],
    ids=["binary", "not-utf8", "wrong-header", "empty", "broken-quotes"],
)
def test_a_file_that_is_not_csv_is_refused_and_nothing_is_written(world: World, content: bytes) -> None:
    before = _state()
    response = _upload(world.client("admin"), world, content)
    assert response.status_code == 400
    assert b"Nothing was added" in response.content or b"The submitted file is empty" in response.content
    assert _state() == before


def test_a_failure_late_in_the_upload_rolls_back_every_row(world: World, monkeypatch: Any) -> None:
    """Even a failure after the accounts are written (here: the consent record) leaves nothing behind."""
    from django.core.exceptions import ValidationError

    calls = []

    def failing(**kwargs: Any) -> None:
        calls.append(kwargs)
        raise ValidationError("refused")

    from consent import services as consent_services

    # the school's consent is recorded for the whole upload at once, after its accounts were inserted
    monkeypatch.setattr(consent_services, "consent_records_school", failing)
    before = _state()
    response = _upload(world.client("admin"), world, b"first_name,last_name\nGrace,Hopper\nAda,Lovelace\n")
    assert response.status_code == 400
    assert [len(c["children"]) for c in calls] == [2]
    assert _state() == before


def test_adding_one_student_and_form_errors(world: World) -> None:
    client = world.client("admin")
    url = reverse("grading:student_add", args=[world.school.pk])
    before = _state()
    response = client.post(url, {"first_name": "", "last_name": "Hopper", "username": "no spaces"})
    assert response.status_code == 400
    assert _state() == before
    response = client.post(url, {"first_name": "Grace", "last_name": "Hopper", "username": ""})
    assert response.status_code == 200
    assert User.objects.get(first_name="Grace").username == "grace.h"


def _cards_prepared(client: Client, url: str, students: list[int], capture: Any) -> Any:
    """Ask for login cards (a background job, run here at the commit) and download them from its page."""
    with capture(execute=True):
        response = client.post(url, {"students": students})
    assert response.status_code == 302
    progress = client.get(response["Location"]).content.decode()
    assert 'role="status"' in progress
    download = progress.split('data-poll-link href="')[1].split('"')[0]
    return client.get(download)


def test_login_cards_issue_new_first_passwords_printed_in_a_pdf(
    world: World, fast_hasher: None, django_capture_on_commit_callbacks: Any, tmp_path: Any, settings: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    client = world.client("teacher")
    [grace] = school_services.students_register(
        actor=world.admin, school=world.school, rows=[school_services.StudentRow("Grace", "Hopper")]
    )
    url = reverse("grading:login_cards", args=[world.school.pk])
    response = _cards_prepared(client, url, [grace.pk, world.student.pk], django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(b"".join(response.streaming_content))).pages)
    assert "Grace Hopper" in text
    assert "Mia Khan" in text
    assert "Maple Grove" in text
    password = text.split("Username: grace.h")[1].split("Password: ")[1].split()[0]
    grace.refresh_from_db()
    assert grace.check_password(password)
    assert SchoolStudentAccount.objects.get(user=grace).first_password_issued_at is not None

    # printing again gives a new password; the old card stops working
    _cards_prepared(client, url, [grace.pk], django_capture_on_commit_callbacks)
    grace.refresh_from_db()
    assert not grace.check_password(password)


def test_login_cards_only_for_students_the_school_registered(world: World, fast_hasher: None) -> None:
    outsider = UserFactory()
    before = outsider.password
    response = world.client("admin").post(
        reverse("grading:login_cards", args=[world.school.pk]), {"students": [outsider.pk]}
    )
    assert response.status_code == 302
    outsider.refresh_from_db()
    assert outsider.password == before


def test_student_signs_in_with_login_card(world: World, fast_hasher: None) -> None:
    [card] = school_services.login_cards_issue(actor=world.admin, school=world.school, student_ids=[world.student.pk])
    client = Client()
    url = reverse("grading:student_sign_in")
    assert client.post(url, {"username": card.username, "password": "wrong"}).status_code == 400
    response = client.post(url, {"username": card.username.upper(), "password": card.password})
    assert response.status_code == 302
    assert response["Location"] == reverse("grading:my_grades")
    assert b"17.5 / 20" in client.get(reverse("grading:my_grades")).content


def test_card_sign_in_is_only_for_school_registered_accounts(world: World, password: str) -> None:
    response = Client().post(
        reverse("grading:student_sign_in"), {"username": world.adult.username, "password": password}
    )
    assert response.status_code == 400
    assert "_auth_user_id" not in response.wsgi_request.session


def test_card_sign_in_is_rate_limited(world: World) -> None:
    client = Client()
    url = reverse("grading:student_sign_in")
    statuses = [
        client.post(url, {"username": world.student.username, "password": "nope"}).status_code for _ in range(7)
    ]
    assert statuses[-1] == 429
    assert 400 in statuses


def test_teacher_invitation_by_email_accepted_once(world: World, django_capture_on_commit_callbacks: Any) -> None:
    invited = UserFactory(email="new.teacher@example.org")
    accept_policy(invited)
    with django_capture_on_commit_callbacks(execute=True):
        response = world.client("admin").post(
            reverse("grading:teacher_invite", args=[world.school.pk]), {"email": "new.teacher@example.org"}
        )
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == ["new.teacher@example.org"]
    assert "Maple Grove" in message.subject
    link = next(line for line in message.body.splitlines() if "/grading/invitations/" in line)
    path = link[link.index("/grading/") :]

    client = Client()
    client.force_login(invited)
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 302
    assert SchoolMembership.objects.filter(user=invited, school=world.school, role="teacher").exists()
    # used: the link stops working
    assert client.post(path).status_code == 400
    assert SchoolMembership.objects.filter(user=invited, role="teacher").count() == 1


def test_invitation_for_another_address_or_tampered_changes_nothing(world: World) -> None:
    invitation = school_services.teacher_invite(admin=world.admin, school=world.school, email="someone@example.org")
    token = school_services.invitation_token(invitation)
    client = world.client("adult")
    assert client.post(reverse("grading:invitation_accept", args=[token])).status_code == 400
    assert client.post(reverse("grading:invitation_accept", args=[token[:-2] + "xx"])).status_code == 400
    assert not SchoolMembership.objects.filter(user=world.adult).exists()
    assert TeacherInvitation.objects.get(pk=invitation.pk).accepted_at is None


def test_expired_invitation_is_refused(world: World) -> None:
    from datetime import timedelta

    from django.utils import timezone

    invited = UserFactory(email="late@example.org")
    accept_policy(invited)
    invitation = school_services.teacher_invite(admin=world.admin, school=world.school, email="late@example.org")
    TeacherInvitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client = Client()
    client.force_login(invited)
    assert (
        client.post(
            reverse("grading:invitation_accept", args=[school_services.invitation_token(invitation)])
        ).status_code
        == 400
    )
    assert not SchoolMembership.objects.filter(user=invited).exists()


def test_only_admins_invite_and_existing_teachers_are_refused(world: World) -> None:
    response = world.client("admin").post(
        reverse("grading:teacher_invite", args=[world.school.pk]), {"email": world.teacher.email}
    )
    assert response.status_code == 400
    assert TeacherInvitation.objects.count() == 0


def test_an_upload_sent_twice_adds_nobody_the_second_time(world: World) -> None:
    client = world.client("admin")
    content = b"first_name,last_name\nGrace,Hopper\nAda,Lovelace\n"
    assert _upload(client, world, content).status_code == 200
    before = _state()
    response = _upload(client, world, content)
    assert response.status_code == 400
    assert "Line 2: Grace Hopper is already a student of this school" in response.content.decode()
    assert _state() == before


def test_a_file_too_large_is_refused_before_it_is_read(world: World) -> None:
    before = _state()
    big = b"first_name,last_name\n" + b"Grace,Hopper\n" * (school_services.CSV_MAX_BYTES // 13 + 1)
    response = _upload(world.client("admin"), world, big)
    assert response.status_code == 400
    assert b"The file is too large" in response.content
    assert _state() == before


def test_a_removed_teacher_loses_the_class_and_its_grades_at_once(world: World) -> None:
    client = world.client("admin")
    url = reverse("grading:teacher_remove", args=[world.school.pk, world.teacher.pk])
    assert client.post(url).status_code == 302
    assert not SchoolMembership.objects.filter(user=world.teacher, role="teacher").exists()
    gradebook = world.client("teacher").get(reverse("grading:gradebook", args=[world.school_class.pk]))
    assert gradebook.status_code == 404
    # removing someone who is not a teacher changes nothing and says so
    before = _state()
    response = client.post(reverse("grading:teacher_remove", args=[world.school.pk, world.student.pk]), follow=True)
    assert "not a teacher of this school" in response.content.decode()
    assert _state() == before


def test_an_admin_removes_a_school_registered_student_and_every_trace_goes(world: World) -> None:
    username = world.student.username
    client = world.client("admin")
    url = reverse("grading:student_remove", args=[world.school.pk])

    unconfirmed = client.post(url, {"student": world.student.pk})
    assert unconfirmed.status_code == 302
    assert User.objects.filter(pk=world.student.pk).exists()
    assert tables_containing(username)
    assert tables_containing(SECRET_FEEDBACK)

    response = client.post(url, {"student": world.student.pk, "confirm": "yes"}, follow=True)

    assert "all its data were deleted" in response.content.decode()
    deletion = AccountDeletionRequest.objects.get()
    assert (deletion.reauthenticated_by, deletion.reason) == ("school", "removed from the school's roster")
    assert not User.objects.filter(pk=world.student.pk).exists()
    assert tables_containing(username) == {}
    assert tables_containing(SECRET_FEEDBACK) == {}
    assert User.objects.filter(pk=world.other_student.pk).exists()


def test_a_student_with_their_own_account_only_leaves_the_school(world: World) -> None:

    url = reverse("grading:student_remove", args=[world.school.pk])
    world.client("admin").post(url, {"student": world.other_student.pk, "confirm": "yes"})

    assert User.objects.filter(pk=world.other_student.pk, is_active=True).exists()
    assert not SchoolMembership.objects.filter(user=world.other_student, school=world.school).exists()


@pytest.mark.parametrize("role", ["teacher", "foreign_teacher", "student", "adult", "superuser", "anonymous"])
def test_only_the_schools_administrator_removes_students(world: World, role: str) -> None:
    before = _state()
    url = reverse("grading:student_remove", args=[world.school.pk])
    response = world.client(role).post(url, {"student": world.student.pk, "confirm": "yes"})
    assert response.status_code in (302, 404)
    if role != "anonymous":
        assert response.status_code == 404
    assert _state() == before


@pytest.mark.parametrize(
    "role", ["admin", "other_teacher", "foreign_teacher", "student", "anonymous", "privacy_officer", "superuser"]
)
@pytest.mark.parametrize("name", ["downloads:progress", "downloads:status", "downloads:download"])
def test_only_the_teacher_who_asked_sees_the_cards_progress_and_file(
    world: World,
    role: str,
    name: str,
    fast_hasher: None,
    django_capture_on_commit_callbacks: Any,
    tmp_path: Any,
    settings: Any,
) -> None:
    from mindomo.downloads.models import PreparedFile

    settings.MEDIA_ROOT = tmp_path
    teacher = world.client("teacher")
    with django_capture_on_commit_callbacks(execute=True):
        teacher.post(reverse("grading:login_cards", args=[world.school.pk]), {"students": [world.student.pk]})
    url = reverse(name, args=[PreparedFile.objects.get().public_id])

    client = world.client(role)
    response = client.get(url)
    if name == "downloads:progress" and "_auth_user_id" not in client.session:
        # not signed in (anonymous; the class's student, whose session the new password on the login cards just
        # ended): the page the "ready" email links to asks for the sign-in first, and says nothing of the file
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('account_login')}?next={url}"
        assert role in ("anonymous", "student")
    else:
        assert response.status_code == 404
    assert teacher.get(url).status_code == 200
