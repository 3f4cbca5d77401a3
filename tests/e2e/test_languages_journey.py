"""The product in each of its languages, in Chromium, through the labels a reader of that language sees.

Every label below is looked up in the catalogues (``t``), so these journeys fail if a page is not translated:
the browser only finds what the page shows in that language.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from playwright.sync_api import Browser, BrowserContext, Page, expect

from accounts.models import User
from consent.models import ConsentRecord
from consent.reference_data import ensure_loaded
from mindomo.demo import DEMO_PASSWORD, load_all
from tests.consent.helpers import birth_date_for_age
from tests.i18n.english import english_sentences
from tests.support.smtp import SmtpSink, body_text, first_link

pytestmark = pytest.mark.e2e

LANGUAGES = ["en", "ro", "de", "fr", "es"]
OWN_NAMES = {"en": "English", "ro": "Română", "de": "Deutsch", "fr": "Français", "es": "Español"}
PASSWORD = "frequency-hopping-1942"


def t(language: str, text: str) -> str:
    """``text`` as the catalogue of ``language`` says it (what a reader of that language sees)."""
    with translation.override(language):
        return translation.gettext(text)


def _context(browser: Browser, language: str, **options: Any) -> BrowserContext:
    """A browser whose Accept-Language asks for ``language`` (a first visit follows it)."""
    context = browser.new_context(locale=language, **options)
    context.set_default_timeout(15_000)
    return context


def _answer_the_gate(page: Page, language: str, *, age: int, country: str) -> None:
    born = birth_date_for_age(age)
    page.get_by_label(t(language, "Day")).select_option(str(born.day))
    page.get_by_label(t(language, "Month")).select_option(str(born.month))
    page.get_by_label(t(language, "Year")).select_option(str(born.year))
    page.get_by_label(t(language, "Country of residence")).select_option(country)
    page.get_by_role("button", name=t(language, "Continue")).click()


def _fill(page: Page, field_id: str, label: str, value: str) -> None:
    """Fill the field the page labels ``label`` (checked, then filled by id: "Nume" is inside "Prenume")."""
    expect(page.locator(f"label[for={field_id}]")).to_contain_text(label)
    page.locator(f"#{field_id}").fill(value)


def _assert_in_language(text: str, language: str) -> None:
    if language != "en":
        assert english_sentences(text) == [], english_sentences(text)


@pytest.fixture
def language_site(site: str) -> str:
    ensure_loaded()
    return site


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_adult_signs_up_and_verifies_their_email_in_their_language(
    browser: Browser, language_site: str, smtp_sink: SmtpSink, language: str
) -> None:
    context = _context(browser, language)
    page = context.new_page()
    page.goto(f"{language_site}/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    page.get_by_role("link", name=t(language, "Sign up")).first.click()
    _answer_the_gate(page, language, age=30, country="AT")

    email = f"hedy.{language}@example.com"
    _fill(page, "id_first_name", t(language, "First name"), "Hedy")
    _fill(page, "id_last_name", t(language, "Last name"), "Lamarr")
    page.locator("#id_email").fill(email)
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_label(t(language, "I have read and accept the privacy policy")).check()
    page.get_by_role("button", name=t(language, "Sign Up")).click()
    expect(page.get_by_role("heading", name=t(language, "Verify Your Email Address"))).to_be_visible()

    message = smtp_sink.wait_for(to=email)
    text = body_text(message)
    _assert_in_language(str(message["Subject"]) + "\n" + text, language)
    page.goto(first_link(text, "/accounts/confirm-email/"))
    page.get_by_role("button", name=t(language, "Confirm")).click()
    expect(page.get_by_role("button", name=t(language, "Sign out"))).to_be_visible()
    assert User.objects.get(email=email).language == language  # later emails (beat tasks too) use it
    context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_childs_parent_gets_the_request_in_the_childs_language_and_approves(
    browser: Browser, language_site: str, smtp_sink: SmtpSink, language: str
) -> None:
    child = _context(browser, language)
    page = child.new_page()
    page.goto(f"{language_site}/")
    page.get_by_role("link", name=t(language, "Sign up")).first.click()
    _answer_the_gate(page, language, age=10, country="US")
    expect(page.get_by_role("heading", name=t(language, "Create your account"))).to_be_visible()
    page.get_by_label(t(language, "Username or email address")).fill(f"mia.{language}")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_label(t(language, "Your parent's or guardian's email address")).fill(f"mum.{language}@example.org")
    page.get_by_role("button", name=t(language, "Ask my parent")).click()
    expect(page.get_by_role("heading", name=t(language, "We asked your parent"))).to_be_visible()
    child.close()

    subject = t(language, "Your child asks for your permission to use Mindomo")
    message = smtp_sink.wait_for(to=f"mum.{language}@example.org", subject_contains=subject)
    text = body_text(message)
    _assert_in_language(text, language)

    # the parent's own browser speaks English: the page still opens, and the parent reads it in English
    parent = _context(browser, "en")
    page = parent.new_page()
    page.goto(first_link(text, "/consent/parent/"))
    page.get_by_label(t("en", "I am this child's parent or legal guardian.")).check()
    page.get_by_role("button", name=t("en", "Approve: create my child's account")).click()
    expect(page.get_by_role("heading", name=t("en", "Account approved"))).to_be_visible()
    parent.close()

    record = ConsentRecord.objects.get(child__username=f"mia.{language}")
    assert record.parent_language == "en"  # the parent's later emails follow the language they approved in
    confirmation = smtp_sink.wait_for(
        to=f"mum.{language}@example.org", subject_contains=t("en", "You approved your child's Mindomo account")
    )
    assert confirmation is not None


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_teacher_grades_and_downloads_a_report_with_headers_in_their_language(
    browser: Browser, language_site: str, language: str
) -> None:
    from grading.models import Assignment, SchoolClass

    load_all()
    User.objects.filter(email="teacher@maplegrove.example").update(language="")
    school_class = SchoolClass.objects.filter(teacher__email="teacher@maplegrove.example").first()
    assert school_class is not None
    assignment = Assignment.objects.filter(school_class=school_class).first()
    assert assignment is not None

    context = _context(browser, language, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{language_site}/accounts/login/")
    page.locator("#id_login").fill("teacher@maplegrove.example")
    page.locator("#id_password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name=t(language, "Sign in")).click()
    page.goto(f"{language_site}/grading/classes/{school_class.pk}/")
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_role("button", name=t(language, "Save all grades"))).to_be_visible()
    _assert_in_language(page.locator("main").inner_text(), language)

    page.goto(f"{language_site}/grading/assignments/{assignment.pk}/report/")
    notice = t(language, "I have read this notice and will share grade reports only as COPPA, FERPA and GDPR allow.")
    page.get_by_label(notice).check()
    page.get_by_role("button", name=t(language, "Acknowledge")).click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name=t(language, "Download CSV")).first.click()
    content = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    header = next(csv.reader(io.StringIO(content)))
    assert t(language, "Score") in header, header
    assert t(language, "Feedback") in header, header
    if language != "en":
        assert "Score" not in header
        assert "Feedback" not in header
    context.close()


def test_switching_language_on_a_phone(browser: Browser, language_site: str) -> None:
    context = _context(browser, "en", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{language_site}/accounts/login/")
    switcher = page.get_by_role("form", name="Language")
    for name in OWN_NAMES.values():
        expect(switcher.get_by_role("button", name=name, exact=True)).to_be_visible()
    button = switcher.get_by_role("button", name="Deutsch", exact=True)
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 390
    assert box["height"] >= 24  # a finger can hit it
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    button.tap()
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("button", name=t("de", "Sign in"))).to_be_visible()
    assert "/accounts/login/" in page.url  # back on the same page
    # remembered: a new page of the same browser stays German whatever Accept-Language says
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    assert cookies["django_language"] == "de"
    page.goto(f"{language_site}/")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    context.close()


def test_the_choice_follows_a_person_to_a_second_browser(
    browser: Browser, language_site: str, member: Any, password: str
) -> None:
    first = _context(browser, "en")
    page = first.new_page()
    page.goto(f"{language_site}/accounts/login/")
    page.locator("#id_login").fill(member.email)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("form", name="Language").get_by_role("button", name="Română", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "ro")
    first.close()
    member.refresh_from_db()
    assert member.language == "ro"

    second = _context(browser, "fr")  # another device, whose browser asks for French
    page = second.new_page()
    page.goto(f"{language_site}/accounts/login/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.locator("#id_login").fill(member.email)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name=t("fr", "Sign in")).click()
    expect(page.locator("html")).to_have_attribute("lang", "ro")
    expect(page.get_by_role("heading", name=t("ro", "Your profile"))).to_be_visible()
    page.get_by_role("button", name=t("ro", "Sign out")).click()
    expect(page.locator("html")).to_have_attribute("lang", "ro")  # the cookie kept it after signing out
    second.close()
