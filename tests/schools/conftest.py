"""A school with an administrator and a teacher who have their own accounts, and OneRoster zips built here."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialToken
from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter
from django.test import Client
from django.urls import reverse

from accounts.models import User
from schools import roster, signin
from schools.models import School, SchoolDomain
from schools.oneroster_sample import SampleClass, SampleEnrollment, SampleUser, write_zip
from tests.accounts.factories import UserFactory
from tests.support import roles
from tests.support.dbscan import tables_containing
from tests.support.fake_oauth import FakeGoogle


@dataclass
class SchoolWorld:
    school: School
    admin: User
    teacher: User

    def client(self, user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client


@pytest.fixture
def sw(db: Any, settings: Any, tmp_path: Any) -> SchoolWorld:
    settings.MEDIA_ROOT = str(tmp_path / "media")  # the kept zips, per test
    school = School.objects.create(name="Maple Grove", country="US", contact_email="office@maple.example")
    admin = roles.make_school_admin(school, email="principal@maple.example", first_name="Rosa", last_name="Parks")
    # an adult with an account of their own whom the roster below names as a teacher (not yet a member)
    teacher = UserFactory(email="turing@maple.example", first_name="Alan", last_name="Turing")
    return SchoolWorld(school=school, admin=admin, teacher=teacher)


STUDENTS = [
    SampleUser("stu-1", "student", "Mia", "Khan", username="mia.khan", agents=("par-1",)),
    SampleUser("stu-2", "student", "Leo", "Okafor", username="leo.okafor", agents=("par-2",)),
    SampleUser("stu-3", "student", "Zoe", "Novak"),
    SampleUser("stu-4", "student", "Sam", "Ito", agents=("par-3", "par-4")),
]
STAFF = [
    SampleUser("tea-1", "teacher", "Alan", "Turing", email="turing@maple.example"),
    SampleUser("tea-2", "teacher", "Grace", "Hopper", email="hopper@maple.example"),
]
GUARDIANS = [
    SampleUser("par-1", "guardian", "Amir", "Khan", email="amir.khan@family.example", agents=("stu-1",)),
    SampleUser("par-2", "parent", "Ngozi", "Okafor", email="ngozi@family.example"),
    SampleUser("par-3", "guardian", "Yuki", "Ito", email="yuki@family.example"),
    SampleUser("par-4", "guardian", "Ken", "Ito", email="ken@family.example"),
]
CLASSES = [SampleClass("cls-sci", "Year 6 Science"), SampleClass("cls-art", "Year 6 Art")]
ENROLLMENTS = [
    SampleEnrollment("enr-t1", "cls-sci", "tea-1", role="teacher", primary="true"),
    SampleEnrollment("enr-t2", "cls-art", "tea-2", role="teacher", primary="true"),
    SampleEnrollment("enr-1", "cls-sci", "stu-1"),
    SampleEnrollment("enr-2", "cls-sci", "stu-2"),
    SampleEnrollment("enr-3", "cls-sci", "stu-3"),
    SampleEnrollment("enr-4", "cls-art", "stu-1"),
    SampleEnrollment("enr-5", "cls-art", "stu-4"),
]


def roster_zip(
    *,
    users: list[SampleUser] | None = None,
    classes: list[SampleClass] | None = None,
    enrollments: list[SampleEnrollment] | None = None,
    version: str = "1.1",
    extra: dict[str, bytes] | None = None,
) -> bytes:
    buffer = io.BytesIO()
    write_zip(
        buffer,
        users=users if users is not None else [*STUDENTS, *STAFF, *GUARDIANS],
        classes=classes if classes is not None else CLASSES,
        enrollments=enrollments if enrollments is not None else ENROLLMENTS,
        version=version,
        extra=extra,
    )
    return buffer.getvalue()


# --- the school sign-in through local fakes of Google and Microsoft (tests/support/fake_oauth.py) -------------
TENANT = "6f1c2d3e-0000-4000-8000-00000000cafe"
PROFILE_SECRETS = ("photo-7f3a.jpg", "fr-CA-x-secret", "Physicist-3d")


@pytest.fixture
def fake_google(settings: Any, monkeypatch: Any) -> Iterator[FakeGoogle]:
    fake = FakeGoogle(client_id="mindomo-google-test")
    providers = {**settings.SOCIALACCOUNT_PROVIDERS}
    providers["google"] = {**providers["google"], "APPS": [{"client_id": fake.client_id, "secret": "s"}]}
    settings.SOCIALACCOUNT_PROVIDERS = providers
    monkeypatch.setattr(GoogleOAuth2Adapter, "authorize_url", f"{fake.url}/o/oauth2/v2/auth")
    monkeypatch.setattr(GoogleOAuth2Adapter, "access_token_url", f"{fake.url}/token")
    yield fake
    fake.stop()


@pytest.fixture
def rostered(sw: SchoolWorld) -> SchoolWorld:
    """The school's roster, with school email addresses, imported."""
    students = [
        SampleUser(u.sourced_id, u.role, u.given, u.family, u.username, f"{u.given.lower()}@school.example", u.agents)
        for u in STUDENTS
    ]
    data = roster_zip(users=[*students, *STAFF, *GUARDIANS], classes=CLASSES, enrollments=ENROLLMENTS)
    preview = roster.roster_preview(actor=sw.admin, school=sw.school, upload=[data], size=len(data))
    roster.roster_import_start(actor=sw.admin, roster_import=preview, confirm_erase=False, queue=False)
    roster.roster_import_run(import_id=preview.pk)
    return sw


def school_domain(sw: SchoolWorld, provider: str, *, verified: bool = True) -> SchoolDomain:
    domain = signin.domain_add(
        admin=sw.admin, school=sw.school, domain="school.example", provider=provider, tenant_id=TENANT
    )
    return signin.domain_verify(domain=domain, how="dns") if verified else domain


def through_provider(client: Client, email: str, fake_url: str) -> Any:
    """The school sign-in page, its provider button, the provider, and back to allauth's callback."""
    page = client.post(reverse("schools:sign_in"), {"email": email})
    assert page.status_code == 200
    html = page.content.decode()
    action = html.split('action="', 2)[2].split('"', 1)[0].replace("&amp;", "&")  # the provider button's form
    response = client.post(action, {"process": "login"})
    assert response.status_code == 302
    assert response["Location"].startswith(fake_url)
    provider_redirect = requests.get(response["Location"], allow_redirects=False, timeout=5)
    callback = urlsplit(provider_redirect.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


def nothing_of_the_provider_is_stored() -> None:
    assert SocialAccount.objects.count() == 0
    assert SocialToken.objects.count() == 0
    for secret in PROFILE_SECRETS:
        assert tables_containing(secret) == {}, secret
