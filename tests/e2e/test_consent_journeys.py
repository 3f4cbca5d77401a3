"""Parental consent in Chromium with a real SMTP sink: a child signs up, the parent approves or refuses by the
emailed link, and the age gate sends each age and country where it belongs."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from consent.models import ConsentRecord, PendingSignup
from consent.reference_data import ensure_loaded
from tests.consent.helpers import birth_date_for_age
from tests.support.dbscan import tables_containing
from tests.support.smtp import SmtpSink, body_text, first_link

pytestmark = pytest.mark.e2e

CHILD_PASSWORD = "purple-giraffe-runs-42"


@pytest.fixture
def consent_site(site: str) -> str:
    """The live server, with the age rules a transactional test flushed loaded again."""
    ensure_loaded()
    return site


def answer_the_gate(page: Page, *, age: int, country: str) -> None:
    born = birth_date_for_age(age)
    expect(page.get_by_role("heading", name="Sign up")).to_be_visible()
    page.get_by_label("Day").select_option(str(born.day))
    page.get_by_label("Month").select_option(str(born.month))
    page.get_by_label("Year").select_option(str(born.year))
    page.get_by_label("Country of residence").select_option(country)
    page.get_by_role("button", name="Continue").click()


def child_asks(page: Page, site: str, *, login: str, parent_email: str, age: int = 10, country: str = "US") -> None:
    page.goto(f"{site}/")
    page.get_by_role("link", name="Sign up").first.click()
    answer_the_gate(page, age=age, country=country)
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("Username or email address").fill(login)
    page.locator("#id_password1").fill(CHILD_PASSWORD)
    page.locator("#id_password2").fill(CHILD_PASSWORD)
    page.get_by_label("Your parent's or guardian's email address").fill(parent_email)
    page.get_by_role("button", name="Ask my parent").click()
    expect(page.get_by_role("heading", name="We asked your parent")).to_be_visible()


def test_a_ten_year_old_in_the_us_signs_up_the_parent_approves_and_the_child_logs_in(
    page: Page, browser: Browser, consent_site: str, smtp_sink: SmtpSink
) -> None:
    child_asks(page, consent_site, login="mia2016", parent_email="mum@example.org")

    message = smtp_sink.wait_for(to="mum@example.org", subject_contains="permission")
    text = body_text(message)
    assert "Hetzner Online GmbH" in text
    assert "7 days" in text
    parent = browser.new_page()
    parent.goto(first_link(text, "/consent/parent/"))
    expect(parent.get_by_text("mia2016")).to_be_visible()
    parent.get_by_label("I am this child's parent or legal guardian.").check()
    parent.get_by_role("button", name="Approve").click()
    expect(parent.get_by_role("heading", name="Account approved")).to_be_visible()
    smtp_sink.wait_for(to="mum@example.org", subject_contains="You approved")
    parent.close()

    page.goto(f"{consent_site}/accounts/login/")
    page.locator("#id_login").fill("mia2016")
    page.locator("#id_password").fill(CHILD_PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()
    child = User.objects.get(username="mia2016")
    assert ConsentRecord.objects.get(child=child).parent_email == "mum@example.org"


def test_the_parent_refuses_and_nothing_about_the_attempt_remains(
    page: Page, browser: Browser, consent_site: str, smtp_sink: SmtpSink
) -> None:
    child_asks(page, consent_site, login="leo.sneaky", parent_email="dad@example.org", age=8, country="GB")

    message = smtp_sink.wait_for(to="dad@example.org", subject_contains="permission")
    parent = browser.new_page()
    parent.goto(first_link(body_text(message), "/consent/parent/"))
    assert set(tables_containing("dad@example.org")) >= {"consent_pendingsignup"}
    # the child's login is in the sealed request, never readable: the request itself is what must go
    assert PendingSignup.objects.count() == 1
    assert tables_containing("leo.sneaky") == {}
    parent.get_by_role("button", name="Refuse").click()
    expect(parent.get_by_role("heading", name="Request refused")).to_be_visible()
    parent.close()

    assert PendingSignup.objects.count() == 0
    assert User.objects.count() == 0
    assert tables_containing("dad@example.org") == {}
    assert tables_containing("leo.sneaky") == {}


@pytest.mark.parametrize(
    ("age", "country", "needs_consent"),
    [(15, "DE", True), (15, "FR", False), (14, "AT", False)],
    ids=["15-in-Germany-needs-consent", "15-in-France-does-not", "14-in-Austria-does-not"],
)
def test_the_gate_sends_each_age_and_country_where_it_belongs(
    page: Page, consent_site: str, age: int, country: str, needs_consent: bool, db: Any
) -> None:
    page.goto(f"{consent_site}/accounts/signup/")
    answer_the_gate(page, age=age, country=country)

    if needs_consent:
        expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
        expect(page.get_by_label("Your parent's or guardian's email address")).to_be_visible()
    else:
        expect(page.get_by_label("First name")).to_be_visible()
        expect(page.get_by_label("Your parent's or guardian's email address")).to_have_count(0)
    # Going back to answer again yields the first decision.
    page.goto(f"{consent_site}/consent/age/")
    expected = "/consent/child/" if needs_consent else "/accounts/signup/"
    assert page.url.endswith(expected)
