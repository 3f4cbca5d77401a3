"""The students a school registered and the invitations to teachers, in the privacy registry (export, erase)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from mindomo import privacy

from .models import RosteredPerson, RosterImport, SchoolStudentAccount, TeacherInvitation


@privacy.register
class SchoolsPrivacyProvider(privacy.PrivacyProvider):
    name = "schools"
    label = _("Schools")
    legal_basis = _(
        "Contract with the school (GDPR Art. 6(1)(b)), which authorizes its students' accounts for educational "
        "use only (COPPA)."
    )
    data_subjects = _("A school's students, teachers and administrators.")
    erase_order = 210  # after grading's classes and grades

    def declarations(self) -> list[privacy.DataCategory]:
        return [
            privacy.DataCategory(
                model="schools.SchoolStudentAccount",
                fields=("user", "school", "registered_by", "created_at"),
                purpose=_(
                    "Record that a school registered this student (consent given by the school, for "
                    "educational use only)."
                ),
                retention=_("Until the student's account is deleted."),
            ),
            privacy.DataCategory(
                model="schools.RosteredPerson",
                fields=("school", "sourced_id", "user", "role", "email"),
                purpose=_(
                    "Match a person to the same row of the school's next OneRoster import, and their school "
                    "sign-in (Google or Microsoft) to their school account."
                ),
                retention=_("Until the person leaves the school's roster or the account is deleted."),
            ),
            privacy.DataCategory(
                model="schools.RosterImport",
                fields=("school", "uploaded_by", "summary"),
                purpose=_(
                    "Show a school administrator what an import will change before it runs; once it ran, only "
                    "how many rows changed is kept."
                ),
                retention=_("The names in the preview until the import runs or is cancelled (at most a day)."),
            ),
            privacy.DataCategory(
                model="schools.TeacherInvitation",
                fields=("school", "email", "invited_by", "created_at", "accepted_at"),
                purpose=_("Invite a teacher to a school by email."),
                retention=_("Until the school or the invited person's account is deleted."),
            ),
        ]

    def export(self, user: User) -> dict[str, Any]:
        registration = SchoolStudentAccount.objects.filter(user=user).select_related("school").first()
        return {
            "school_registration": (
                {"school": registration.school.name, "registered_at": registration.created_at.isoformat()}
                if registration
                else None
            ),
        }

    def summary(self, user: User) -> dict[str, Any]:
        return {
            "school_registration": privacy.First(
                SchoolStudentAccount.objects.filter(user_id=user.pk).values("school__name", "created_at")
            ),
        }

    @transaction.atomic(savepoint=False)
    def erase(self, user: User) -> None:
        SchoolStudentAccount.objects.filter(user=user).delete()
        RosteredPerson.objects.filter(user=user).delete()
        RosterImport.objects.filter(uploaded_by=user).update(uploaded_by=None)
        invitations = Q(accepted_by=user)
        if user.email:
            invitations |= Q(email__iexact=user.email)
        TeacherInvitation.objects.filter(invitations).delete()
