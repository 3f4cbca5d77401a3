"""No English sentence is left when the product speaks Romanian, German, French or Spanish.

1. Every template of the project (pages and emails, text and HTML) is parsed: no text outside
   {% translate %} / {% blocktranslate %} reads as English.
2. The pages of every role are rendered in each language and no visible English sentence is left (this
   catches strings built in Python without gettext, and third-party strings nobody translated).
3. Every email the product sends is rendered in each language: subject and body carry no English sentence.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.template import engines
from django.template.base import Node, TextNode
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import User
from mindomo.demo import DEMO_PASSWORD, load_all
from tests.i18n.english import english_sentences, visible_text

OTHER_LANGUAGES = ["ro", "de", "fr", "es"]
TEMPLATE_ROOTS = [Path(settings.BASE_DIR) / "templates", *sorted(Path(settings.BASE_DIR).glob("*/templates"))]


def _project_templates() -> list[str]:
    names = []
    for root in TEMPLATE_ROOTS:
        if "tests" in root.parts or ".venv" in root.parts:
            continue
        names += [str(p.relative_to(root)) for p in root.rglob("*") if p.suffix in {".html", ".txt"}]
    return sorted(set(names))


def _text_nodes(nodelist: Any) -> list[TextNode]:
    found: list[TextNode] = []
    for node in nodelist:
        if isinstance(node, TextNode):
            found.append(node)
        for attr in getattr(node, "child_nodelists", ()):
            child = getattr(node, attr, None)
            if child:
                found += _text_nodes(child)
        if isinstance(node, Node) and hasattr(node, "conditions_nodelists"):  # {% if %} branches
            for _condition, branch in node.conditions_nodelists:
                found += _text_nodes(branch)
    return found


def _literal_text(source: str) -> str:
    """What a template prints as it is: tags, attributes' markup and comments removed."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", source, flags=re.S)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return text


def test_the_project_has_templates_to_check() -> None:
    names = _project_templates()
    assert "base.html" in names
    assert "emails/consent/request.txt" in names
    assert "pages/privacy_policy.html" in names


@pytest.mark.parametrize("name", _project_templates())
def test_no_template_prints_english_outside_a_translation_tag(name: str) -> None:
    template = engines["django"].get_template(name).template  # type: ignore[attr-defined]
    literal = "\n".join(_literal_text(node.s) for node in _text_nodes(template.nodelist))
    assert english_sentences(literal) == [], f"{name}: English outside {{% translate %}}"


def test_the_checker_finds_english_it_is_shown() -> None:
    assert english_sentences("Please check your email and try again.")
    assert not english_sentences("Bitte prüfen Sie Ihre E-Mail und versuchen Sie es erneut.")
    assert not english_sentences("Verificați-vă e-mailul: are un link de la Mindomo.")  # "are" is Romanian


# --- pages, as each role sees them -------------------------------------------------------------------------
PUBLIC_PAGES = [
    "home",
    "privacy_policy",
    "privacy:retention",
    "account_login",
    "account_reset_password",
    "consent:age_gate",
    "consent:portal",
    "consent:portal_school",
    "analytics:settings",
    "accounts:support",
    "grading:student_sign_in",
    "billing:plan_list",
]
ROLE_PAGES = {
    "ada@example.com": [
        "accounts:profile",
        "account_email",
        "account_change_password",
        "socialaccount_connections",
        "accounts:data_export",
        "accounts:account_delete",
        "grading:index",
        "billing:plan_list",
    ],
    "buyer@example.com": ["billing:invoice_list", "billing:plan_list"],
    "teacher@maplegrove.example": ["grading:index", "grading:class_list", "grading:export_history"],
    "principal@maplegrove.example": ["grading:index"],
    "mia": ["grading:index", "grading:my_grades", "accounts:profile"],
}


@pytest.fixture
def demo(db: Any, settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    load_all()
    User.objects.update(language="")  # each client asks for its language through Accept-Language


def _assert_no_english(client: Client, url: str, language: str) -> str:
    response = client.get(url, follow=True)
    assert response.status_code == 200, (url, response.status_code)
    html = response.content.decode()
    assert f'<html lang="{language}">' in html, url
    leftovers = english_sentences(visible_text(html))
    assert leftovers == [], f"{url} in {language}: {leftovers}"
    return html


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_public_pages_have_no_english_left(demo: None, language: str) -> None:
    client = Client(headers={"accept-language": language})
    for name in PUBLIC_PAGES:
        _assert_no_english(client, reverse(name), language)


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_each_roles_pages_have_no_english_left(demo: None, language: str) -> None:
    from grading.models import Assignment, SchoolClass

    for login, names in ROLE_PAGES.items():
        client = Client(headers={"accept-language": language})
        with translation.override(language):  # as LocaleMiddleware would have during a real sign-in
            assert client.login(username=login, password=DEMO_PASSWORD), login
        for name in names:
            _assert_no_english(client, reverse(name), language)
        if login.startswith("teacher@"):
            school_class = SchoolClass.objects.filter(teacher__email=login).first()
            assert school_class is not None
            _assert_no_english(client, reverse("grading:gradebook", args=[school_class.pk]), language)
            _assert_no_english(client, reverse("grading:class_students", args=[school_class.pk]), language)
            assignment = Assignment.objects.filter(school_class=school_class).first()
            assert assignment is not None
            _assert_no_english(client, reverse("grading:assignment_report", args=[assignment.pk]), language)
        if login.startswith("principal@"):
            from schools.models import SchoolMembership

            school = SchoolMembership.objects.get(user__email=login, role=SchoolMembership.Role.ADMIN).school
            _assert_no_english(client, reverse("grading:school_roster", args=[school.pk]), language)
            _assert_no_english(client, reverse("grading:student_import", args=[school.pk]), language)


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_the_child_sign_up_pages_have_no_english_left(demo: None, language: str) -> None:
    from tests.consent.helpers import pass_age_gate

    client = Client(headers={"accept-language": language})
    pass_age_gate(client, age=10, country="US")
    _assert_no_english(client, reverse("consent:child_signup"), language)


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_the_parent_portal_has_no_english_left(
    demo: None, language: str, django_capture_on_commit_callbacks: Any
) -> None:
    from consent.models import ConsentRecord
    from tests.consent.portal_helpers import signed_in_parent

    with translation.override(language):
        parent = signed_in_parent("parent.of.mia@example.com", django_capture_on_commit_callbacks)
    parent.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    record = ConsentRecord.objects.get(child__username="mia")
    _assert_no_english(parent, reverse("consent:portal_children"), language)
    _assert_no_english(parent, reverse("consent:portal_child", args=[record.child_id]), language)


# --- every email, in the recipient's language ---------------------------------------------------------------
def _emails_of_every_kind(language: str) -> None:
    """Trigger each email the product sends, to recipients whose stored language is ``language``."""
    from billing.emails import invoice_email_send
    from billing.models import Invoice
    from consent import emails as consent_emails
    from consent.models import ConsentRecord, Guardian, PendingSignup
    from privacy import emails as privacy_emails
    from privacy.models import Notice, NoticeDelivery, PolicyVersion
    from schools.models import TeacherInvitation
    from schools.services import teacher_invitation_send

    mail.outbox.clear()
    ada = User.objects.get(email="ada@example.com")
    User.objects.filter(pk=ada.pk).update(language=language)
    ada.refresh_from_db()
    buyer = User.objects.get(email="buyer@example.com")
    User.objects.filter(pk=buyer.pk).update(language=language)
    principal = User.objects.get(email="principal@maplegrove.example")
    User.objects.filter(pk=principal.pk).update(language=language)
    principal.refresh_from_db()

    from accounts import emails as account_emails
    from accounts.models import AccountDeletionRequest, DataExport

    export = DataExport.objects.create(
        user=ada,
        public_id=uuid.uuid4(),
        state=DataExport.State.READY,
        file_name="x.zip",
        file_size=1,
        expires_at=ada.date_joined,
    )
    account_emails.data_export_ready_send(export=export)
    deletion = AccountDeletionRequest(erase_after=ada.date_joined)
    account_emails.account_deletion_scheduled_send(email=ada.email, name="Ada", deletion=deletion, language=language)
    account_emails.account_erased_send(email=ada.email, name="Ada", language=language)

    invoice = Invoice.objects.filter(user=buyer).first()
    assert invoice is not None
    invoice_email_send(invoice=invoice)

    record = ConsentRecord.objects.select_related("child").get(child__username="mia")
    ConsentRecord.objects.filter(pk=record.pk).update(parent_language=language)
    record.refresh_from_db()
    pending = PendingSignup(
        public_id="x" * 24,
        parent_email="mum@example.org",
        expires_at=timezone.now() + timedelta(days=7),  # an expired request's reminder is never sent
        language=language,
    )
    consent_emails.send_consent_request(pending=pending, key="k")
    consent_emails.send_consent_reminder(pending=pending)
    consent_emails.send_consent_confirmation(record=record)
    consent_emails.send_consent_follow_up(record=record, due_at=timezone.now())
    consent_emails.send_portal_link(email=record.parent_email, token="t", language=language)
    consent_emails.send_portal_erased(email=record.parent_email, withdrawn=True, language=language)
    consent_emails.send_portal_erased(email=record.parent_email, withdrawn=False, language=language)
    guardian = Guardian(record=record, email="dad@example.org", language=language)
    consent_emails.send_guardian_invited(guardian=guardian)
    consent_emails.send_age_up_parent(email=record.parent_email, login="mia", language=language)
    school_record = ConsentRecord.objects.select_related("child", "school").filter(school__isnull=False).first()
    assert school_record is not None
    consent_emails.send_school_request(
        record=school_record,
        recipients=[principal.email],
        parent_email="dad@example.org",
        request_kind="overview",
        message="",
    )

    version = PolicyVersion.objects.order_by("-effective_at").first()
    assert version is not None
    privacy_emails.send_policy_reconsent(
        parent_email=record.parent_email, version=version, link="http://x/", children=2, language=language
    )
    with translation.override(language):
        notice_subject = translation.gettext("Our privacy policy")
    notice = Notice(subject=notice_subject, body=notice_subject)
    privacy_emails.send_notice(delivery=NoticeDelivery(notice=notice, user=ada, address=ada.email))
    privacy_emails.send_notice(
        delivery=NoticeDelivery(notice=notice, address=record.parent_email, via="parent", covers=1)
    )
    privacy_emails.send_policy_reconsent(
        parent_email=record.parent_email,
        version=version,
        link="http://x/",
        children=1,
        reminder=True,
        language=language,
    )
    privacy_emails.send_policy_paused(
        parent_email=record.parent_email, version=version, link="http://x/", language=language
    )
    privacy_emails.send_policy_changed(to=principal.email, version=version, via="school")

    invitation = TeacherInvitation.objects.create(
        school=school_record.school,
        email="new.teacher@example.org",
        invited_by=principal,
        expires_at=timezone.now() + timedelta(days=7),
    )
    teacher_invitation_send(invitation=invitation)

    # a request to join as a teacher: the administrator is told; the person is told the answer (both kinds)
    from schools import services as school_services
    from schools.models import SchoolDomain

    domain = SchoolDomain.objects.create(
        school=school_record.school,
        domain="join.maplegrove.example",
        provider="google",
        txt_token="t",
        verified_at=timezone.now(),
    )
    for email, approve in (("grace@join.maplegrove.example", True), ("kay@join.maplegrove.example", False)):
        asked = school_services.teacher_join_request(
            domain_id=domain.pk, email=email, first_name="Grace", last_name="Hopper", language=language, client_ip="ip"
        )
        school_services.teacher_join_answer(
            admin=principal, school=school_record.school, join_request_id=asked.pk, approve=approve
        )


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_every_email_is_written_in_the_recipients_language(
    demo: None, language: str, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # the sender's language never leaks into the email; emails queued in the outbox go out after commit
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        _emails_of_every_kind(language)
    messages = list(mail.outbox)
    assert len(messages) == 25  # every kind of email (the portal-erased one twice: deleted, withdrawn; notices to an
    # account and to a parent; the policy letter, its reminder, the pause and the schools' notice; a request to join
    # as a teacher twice, approved and declined)
    for message in messages:
        parts = [message.subject, message.body]
        parts += [
            visible_text(content) for content, mime in getattr(message, "alternatives", []) if mime == "text/html"
        ]
        for part in parts:
            assert english_sentences(part) == [], f"{message.subject!r} in {language}: {english_sentences(part)}"
