"""Children's accounts made the way the consent app makes them (its services), for the analytics tests."""

from __future__ import annotations

from accounts.models import User
from consent import services as consent_services
from consent.reference_data import ensure_loaded
from schools.models import School, SchoolMembership
from tests.consent.factories import make_user
from tests.consent.portal_helpers import consented_child


def make_parental_child(*, login: str = "kiddo2016", parent_email: str = "parent@example.org") -> User:
    """A 10-year-old's sign-up, approved by the parent: an account under parental consent."""
    return consented_child(login, parent_email)


def make_school_child() -> User:
    """A pupil whose account exists through the school's consent."""
    ensure_loaded()
    school = School.objects.create(name="Lincoln Elementary", country="US", contact_email="office@lincoln.example")
    teacher = make_user()
    SchoolMembership.objects.create(school=school, user=teacher, role=SchoolMembership.Role.TEACHER)
    pupil = make_user(email="", verified_email=False)
    SchoolMembership.objects.create(school=school, user=pupil, role=SchoolMembership.Role.STUDENT)
    consent_services.consent_record_school(child=pupil, school=school, granted_by=teacher)
    return pupil
