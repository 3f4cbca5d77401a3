"""Login cards for a whole class, prepared off the request (mindomo.downloads): one Argon2 hash per student is
seconds of CPU for a class, so a Celery job issues the passwords and draws the PDF while the teacher's page
shows its progress."""

from __future__ import annotations

from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from mindomo.downloads import registry
from mindomo.downloads.models import PreparedFile
from schools import services as school_services
from schools.models import School

from . import selectors
from .cards import login_cards_pdf

LOGIN_CARDS = "grading.login_cards"
# Students whose passwords are issued (and committed) together: the progress moves after each group.
CARDS_PER_PART = 10


def parts_for(student_count: int) -> int:
    return -(-student_count // CARDS_PER_PART) + 1  # the groups, then the PDF


def _build(prepared: PreparedFile, handle: IO[bytes], progress: registry.Progress) -> None:
    school = School.objects.filter(pk=prepared.params["school_id"]).first()
    if school is None or prepared.user is None:
        raise ValidationError(gettext("This school no longer exists."))
    ordered = list(
        User.objects.filter(pk__in=prepared.params["student_ids"])
        .order_by("last_name", "first_name", "username")
        .values_list("pk", flat=True)
    )
    groups = [ordered[i : i + CARDS_PER_PART] for i in range(0, len(ordered), CARDS_PER_PART)]
    total = len(groups) + 1
    cards = []
    for done, group in enumerate(groups, start=1):
        cards += school_services.login_cards_issue(actor=prepared.user, school=school, student_ids=group)
        progress(done, total)
    sign_in_url = settings.SITE_URL.rstrip("/") + reverse("grading:student_sign_in")
    handle.write(login_cards_pdf(cards=cards, sign_in_url=sign_in_url))
    progress(total, total)


def _allowed(request: HttpRequest, prepared: PreparedFile) -> bool:
    """Only the teacher or administrator who asked, while they still manage the school's roster."""
    user: Any = request.user
    return (
        user.is_authenticated
        and prepared.user_id == user.pk
        and selectors.school_list_managed_by(viewer=user).filter(pk=prepared.params.get("school_id")).exists()
    )


def _back(prepared: PreparedFile) -> str:
    return reverse("grading:school_roster", args=[prepared.params["school_id"]])


def register() -> None:
    registry.register(
        registry.Kind(name=LOGIN_CARDS, build=_build, allowed=_allowed, back_url=_back, title=_("Login cards"))
    )
