"""The students a school registered and the invitations to teachers, in the privacy registry (export, erase)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User
from mindomo import privacy

from . import services
from .models import RosteredPerson, RosterImport, SchoolStudentAccount, TeacherInvitation, TeacherJoinRequest


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
            privacy.DataCategory(
                model="schools.TeacherJoinRequest",
                fields=("school", "email", "first_name", "last_name", "language", "status", "answered_by", "teacher"),
                purpose=_(
                    "Ask a school's administrators whether someone who signed in with the school's account may join "
                    "as a teacher, and tell the person their answer."
                ),
                retention=ngettext(
                    "Deleted %(days)d day after the request, answered or not.",
                    "Deleted %(days)d days after the request, answered or not.",
                    services.JOIN_REQUEST_RETENTION_DAYS,
                )
                % {"days": services.JOIN_REQUEST_RETENTION_DAYS},
            ),
        ]

    def retention_rules(self) -> list[privacy.RetentionRule]:
        return [
            privacy.RetentionRule(
                name="schools.teacher_join_requests",
                description=_("Requests to join a school as a teacher (name and school email)"),
                period=ngettext(
                    "deleted %(days)d day after the request, answered or not",
                    "deleted %(days)d days after the request, answered or not",
                    services.JOIN_REQUEST_RETENTION_DAYS,
                )
                % {"days": services.JOIN_REQUEST_RETENTION_DAYS},
                expired=services.teacher_join_requests_expired,
                key=services.JOIN_REQUEST_KEY,
            )
        ]

    def export(self, user: User) -> dict[str, Any]:
        registration = SchoolStudentAccount.objects.filter(user=user).select_related("school").first()
        join_requests = Q(teacher=user) | (Q(email__iexact=user.email) if user.email else Q(pk__in=[]))
        return {
            "teacher_join_requests": [
                {
                    "school": r.school.name,
                    "email": r.email,
                    "first_name": r.first_name,
                    "last_name": r.last_name,
                    "status": r.status,
                    "asked_at": r.created_at.isoformat(),
                    "answered_at": r.answered_at.isoformat() if r.answered_at else None,
                }
                for r in TeacherJoinRequest.objects.filter(join_requests).select_related("school").order_by("pk")
            ],
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

    def erase_statements(self, user: User) -> list[privacy.ErasePart]:
        invitations = Q(accepted_by_id=user.pk)
        if user.email:
            invitations |= Q(email__iexact=user.email)
        join_requests = Q(teacher_id=user.pk)
        if user.email:
            join_requests |= Q(email__iexact=user.email)
        return [
            *privacy.delete(SchoolStudentAccount.objects.filter(user_id=user.pk)),
            *privacy.delete(RosteredPerson.objects.filter(user_id=user.pk)),
            *privacy.update(RosterImport.objects.filter(uploaded_by_id=user.pk), uploaded_by=None),
            *privacy.delete(TeacherInvitation.objects.filter(invitations)),
            *privacy.delete(TeacherJoinRequest.objects.filter(join_requests)),
            *privacy.update(TeacherJoinRequest.objects.filter(answered_by_id=user.pk), answered_by=None),
        ]
