"""Every role of the product with something to look at: the fuzzer's world.

One adult with a paid invoice, a parent-consented child and the parent signed in to the portal, a school with
its administrator, teacher, class, assignment and registered student, and the staff roles.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import make_password
from django.test import Client
from django.utils import timezone

from accounts.models import User
from consent.models import ThirdParty
from consent.portal import session as portal
from mindomo.roles import BILLING_CLERK_GROUP, PRIVACY_OFFICER_GROUP, SUPPORT_GROUP
from tests.accounts.factories import PASSWORD, UserFactory
from tests.billing.factories import PlanFactory
from tests.billing.helpers import paid_invoice
from tests.consent.portal_helpers import consented_child
from tests.grading.factories import (
    AssignmentFactory,
    EnrollmentFactory,
    GradeFactory,
    SchoolClassFactory,
    SchoolFactory,
)
from tests.support import roles
from tests.support.mfa import sign_in

PARENT_EMAIL = "parent.fuzz@example.com"
ROLES = [
    "anonymous",
    "member",
    "child",
    "parent",
    "school_admin",
    "teacher",
    "student",
    "superuser",
    "support",
    "billing_clerk",
    "privacy_officer",
]


@dataclass
class World:
    users: dict[str, User]
    params: dict[str, list[str]] = field(default_factory=dict)  # URL keyword -> values that name real rows

    def client(self, role: str) -> Client:
        client = Client(raise_request_exception=False)
        self.sign_in(client, role)
        return client

    def sign_in(self, client: Client, role: str) -> None:
        if role == "parent":
            session = client.session
            until = timezone.now() + datetime.timedelta(hours=1)
            session[portal.SESSION_KEY] = {"email": PARENT_EMAIL, "until": until.timestamp()}
            session.save()
        elif role != "anonymous":
            user = self.users[role]
            user.refresh_from_db()
            if not user.is_active:  # a form the fuzzer posted may have deactivated it
                User.objects.filter(pk=user.pk).update(is_active=True)
            sign_in(client, user)


def build_world() -> World:
    member = UserFactory(first_name="Ada", last_name="Lovelace", country="GB")
    invoice = paid_invoice(member)
    child = consented_child("fuzzy.child", PARENT_EMAIL)
    school = SchoolFactory(name="Maple Grove")
    school_admin = roles.make_school_admin(school)
    teacher = roles.make_teacher(school)
    student = roles.make_school_student(school, registered_by=school_admin)
    school_class = SchoolClassFactory(school=school, teacher=teacher, name="Year 6 Science")
    EnrollmentFactory(school_class=school_class, student=student, number=1)
    assignment = AssignmentFactory(school_class=school_class, title="Plant cells", max_score=Decimal("20"))
    GradeFactory(assignment=assignment, student=student, score=Decimal("17.5"), feedback="Good", graded_by=teacher)
    users: dict[str, Any] = {
        "member": member,
        "child": child,
        "school_admin": school_admin,
        "teacher": teacher,
        "student": student,
        "superuser": roles.make_superuser(),
        # the staff roles as every other test makes them (tests/support/roles.py)
        "support": roles.make_staff(SUPPORT_GROUP),
        "billing_clerk": roles.make_staff(BILLING_CLERK_GROUP),
        "privacy_officer": roles.make_staff(PRIVACY_OFFICER_GROUP),
    }
    # the default hasher of the test (a fast one): wrong passwords are checked quickly
    User.objects.filter(pk__in=[u.pk for u in users.values()]).update(password=make_password(PASSWORD))
    third_party = ThirdParty.objects.order_by("pk").first()
    plan = PlanFactory()
    return World(
        users=users,
        params={
            "child_id": [str(child.pk)],
            "third_party_id": [str(third_party.pk)] if third_party else [],
            "plan_id": [str(plan.pk)],
            "reference": [str(invoice.order.reference)],
            "number": [invoice.number],
            "pk": [str(invoice.pk)],
            "school_id": [str(school.pk)],
            "user_id": [str(teacher.pk)],
            "class_id": [str(school_class.pk)],
            "assignment_id": [str(assignment.pk)],
            "fmt": ["csv", "xlsx"],
            "object_id": [str(member.pk)],
            "id": [str(member.pk)],
        },
    )
