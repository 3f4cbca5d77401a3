from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField


class UserManager(DjangoUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        # Usernames are unique whatever their case (allauth's backend handles email logins).
        return self.get(username__iexact=username)


class User(AbstractUser):
    """A person with an account: adult, child (after consent), teacher, school student or staff.

    There is no birth date: the age gate stores its decision, never the date (see consent).
    Children and school students may have no email; they log in with their username.
    """

    email = models.EmailField(_("email address"), blank=True)
    country = CountryField(_("country"), blank=True, help_text=_("Country of residence. Never a precise location."))
    product_updates = models.BooleanField(
        _("product updates by email"),
        default=False,
        help_text=_("Occasional news about improvements to the service. Off unless you turn it on."),
    )

    objects = UserManager()  # type: ignore[misc]

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_ci_unique",
                violation_error_message=_("A user with this email address already exists."),
            ),
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_ci_unique",
                violation_error_message=_("A user with this username already exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class School(models.Model):
    """A school that registers its students and employs teachers (consent limited to education)."""

    name = models.CharField(_("name"), max_length=200)
    country = CountryField(_("country"))
    contact_email = models.EmailField(_("contact email"), help_text=_("Where parents' requests are sent."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("school")
        verbose_name_plural = _("schools")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SchoolMembership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", _("School administrator")
        TEACHER = "teacher", _("Teacher")
        STUDENT = "student", _("Student")

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="school_memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("school membership")
        verbose_name_plural = _("school memberships")
        constraints = [
            models.UniqueConstraint(fields=["school", "user", "role"], name="accounts_membership_unique_role"),
            models.CheckConstraint(
                condition=models.Q(role__in=["admin", "teacher", "student"]), name="accounts_membership_role_valid"
            ),
        ]
        indexes = [models.Index(fields=["user", "role"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.school}"
