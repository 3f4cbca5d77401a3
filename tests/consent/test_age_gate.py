"""The age gate: the decision table per jurisdiction, birthdays, leap days, the default and disputed rows,
the neutral page, and the decision bound to the browser."""

from __future__ import annotations

import datetime
import re
import time

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consent import age_gate, services
from consent.age_gate import decide, reaches_age_on
from consent.models import AgeDecision, AgeOutcome, AgeRule
from consent.reference_data import AGE_RULES
from tests.consent.factories import make_user
from tests.consent.helpers import gate_data

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 6, 15)

EXPECTED_AGES = {
    **dict.fromkeys(["US", "GB", "BE", "DK", "EE", "FI", "LV", "MT", "NO", "SE", "PT"], 13),
    **dict.fromkeys(["AT", "BG", "CY", "ES", "IT", "LT", "KR", "CN"], 14),
    **dict.fromkeys(["CZ", "FR", "GR", "SI"], 15),
    **dict.fromkeys(["DE", "HR", "HU", "IE", "LU", "NL", "PL", "RO", "SK"], 16),
    "IN": 18,
}


def _born(years_ago: int, *, days: int = 0) -> datetime.date:
    """Born ``years_ago`` years before TODAY, shifted by ``days`` (positive: later, so younger)."""
    return TODAY.replace(year=TODAY.year - years_ago) + datetime.timedelta(days=days)


@pytest.mark.parametrize(("country", "age"), sorted(EXPECTED_AGES.items()))
def test_each_country_decides_on_the_day_of_the_birthday(country: str, age: int) -> None:
    on_the_day = decide(birth_date=_born(age), country=country, today=TODAY)
    day_before = decide(birth_date=_born(age, days=1), country=country, today=TODAY)

    assert on_the_day.outcome == AgeOutcome.ADULT
    assert on_the_day.consent_month is None
    assert day_before.outcome == AgeOutcome.CHILD
    assert day_before.consent_month == datetime.date(TODAY.year, TODAY.month, 1)
    assert AgeRule.objects.get(pk=on_the_day.rule_id).age == age


def test_the_day_after_the_birthday_is_adult_and_a_year_younger_is_a_child_until_next_year() -> None:
    assert decide(birth_date=_born(13, days=-1), country="US", today=TODAY).outcome == AgeOutcome.ADULT
    younger = decide(birth_date=_born(12, days=-1), country="US", today=TODAY)
    assert younger.outcome == AgeOutcome.CHILD
    assert younger.consent_month == datetime.date(TODAY.year + 1, 6, 1)


def test_quebec_has_its_own_rule_and_the_rest_of_canada_uses_the_default() -> None:
    born = _born(14)
    assert decide(birth_date=born, country="CA", subdivision="CA-QC", today=TODAY).outcome == AgeOutcome.ADULT
    rest = decide(birth_date=born, country="CA", today=TODAY)
    assert rest.outcome == AgeOutcome.CHILD
    assert AgeRule.objects.get(pk=rest.rule_id).country == ""


@pytest.mark.parametrize("country", ["BR", "JP", "ZA"])
def test_countries_without_a_rule_use_the_default_row_of_16(country: str) -> None:
    child = decide(birth_date=_born(16, days=1), country=country, today=TODAY)
    adult = decide(birth_date=_born(16), country=country, today=TODAY)
    rule = AgeRule.objects.get(pk=child.rule_id)
    assert (rule.country, rule.age) == ("", 16)
    assert (child.outcome, adult.outcome) == (AgeOutcome.CHILD, AgeOutcome.ADULT)


def test_disputed_rows_are_flagged_for_legal_review_and_the_others_are_not() -> None:
    flagged = set(AgeRule.objects.filter(needs_legal_review=True).values_list("country", flat=True))
    assert flagged == {"PT", "LT", "SI", "PL"}
    assert AgeRule.objects.filter(superseded_at__isnull=True).count() == len(AGE_RULES)


@pytest.mark.parametrize(
    ("birth", "turns_13_on"),
    [
        (datetime.date(2012, 2, 29), datetime.date(2025, 3, 1)),  # common year: the day after 28 February
        (datetime.date(2011, 2, 28), datetime.date(2024, 2, 28)),
        (datetime.date(2015, 2, 29 - 1), datetime.date(2028, 2, 28)),
    ],
)
def test_leap_day_births_reach_the_age_on_1_march_in_common_years(
    birth: datetime.date, turns_13_on: datetime.date
) -> None:
    assert reaches_age_on(birth, 13) == turns_13_on


def test_a_leap_day_child_is_a_child_on_28_february_and_not_on_1_march() -> None:
    born = datetime.date(2012, 2, 29)
    feb28 = decide(birth_date=born, country="US", today=datetime.date(2025, 2, 28))
    mar1 = decide(birth_date=born, country="US", today=datetime.date(2025, 3, 1))
    assert feb28.outcome == AgeOutcome.CHILD
    assert feb28.consent_month == datetime.date(2025, 3, 1)
    assert mar1.outcome == AgeOutcome.ADULT
    # In a leap year the birthday exists.
    assert decide(birth_date=born, country="US", today=datetime.date(2024, 2, 29)).outcome == AgeOutcome.CHILD
    assert reaches_age_on(born, 12) == datetime.date(2024, 2, 29)


def test_revising_a_rule_adds_a_version_and_never_changes_decisions_already_made() -> None:
    user = make_user()
    old = decide(birth_date=_born(14), country="AT", today=TODAY)
    services.age_decision_record(user=user, decision=old)
    old_rule = AgeRule.objects.get(pk=old.rule_id)

    new_rule = services.age_rule_revise(
        rule=old_rule, age=15, legal_source="hypothetical amendment", effective_from=TODAY, needs_legal_review=True
    )

    assert (new_rule.version, new_rule.age) == (2, 15)
    old_rule.refresh_from_db()
    assert old_rule.superseded_at is not None
    assert old_rule.age == 14
    stored = AgeDecision.objects.select_related("rule").get(user=user)
    assert (stored.outcome, stored.rule.age, stored.rule.version) == (AgeOutcome.ADULT, 14, 1)
    assert decide(birth_date=_born(14), country="AT", today=TODAY).outcome == AgeOutcome.CHILD


# --- the page ------------------------------------------------------------------------------------------
def test_the_gate_page_is_neutral_with_nothing_preselected(client: Client) -> None:
    html = client.get(reverse("consent:age_gate")).content.decode()

    for name in ("day", "month", "year", "country"):
        assert f'name="{name}"' in html
    preselected = re.findall(r'<option value="([^"]*)" selected>', html)
    assert preselected
    assert set(preselected) == {""}
    words = " ".join(re.sub(r"<[^>]+>", " ", re.sub(r"<select.*?</select>", " ", html, flags=re.S)).split()).lower()
    assert not re.search(r"(?<!\d)(1[0-9]|2[01])(?!\d)", words), "the page must not state an age"
    for hint in ("under", "old enough", "parent", "child", "minimum", "age of", "too young"):
        assert hint not in words, hint
    assert 'name="first_name"' not in html
    assert 'name="email"' not in html


def test_an_adult_goes_on_to_the_sign_up_form_and_only_the_decision_is_kept(client: Client) -> None:
    response = client.post(reverse("consent:age_gate"), gate_data(_born(30), "FR"))

    assert response.status_code == 302
    assert response["Location"] == reverse("account_signup")
    cookie = response.cookies[age_gate.COOKIE_NAME]
    assert int(cookie["max-age"]) >= 24 * 3600
    assert cookie["httponly"]
    assert str(_born(30).year) not in cookie.value
    assert AgeDecision.objects.count() == 0  # nothing is stored before an account exists


def test_a_child_goes_to_the_child_sign_up(client: Client) -> None:
    response = client.post(reverse("consent:age_gate"), gate_data(_born(10), "US"))
    assert response.status_code == 302
    assert response["Location"] == reverse("consent:child_signup")


def test_a_child_cannot_answer_again_to_pass(client: Client) -> None:
    client.post(reverse("consent:age_gate"), gate_data(_born(10), "US"))

    response = client.post(reverse("consent:age_gate"), gate_data(_born(40), "US"))

    assert response["Location"] == reverse("consent:child_signup")
    assert client.get(reverse("account_signup"))["Location"] == reverse("consent:child_signup")


def test_a_tampered_decision_cookie_counts_as_no_decision(client: Client) -> None:
    client.post(reverse("consent:age_gate"), gate_data(_born(10), "US"))
    value = client.cookies[age_gate.COOKIE_NAME].value
    payload, rest = value.split(":", 1)
    client.cookies[age_gate.COOKIE_NAME] = ("A" if payload[0] != "A" else "B") + payload[1:] + ":" + rest

    response = client.get(reverse("account_signup"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("consent:age_gate"))


def test_a_decision_older_than_its_lifetime_no_longer_binds_the_browser(client: Client) -> None:
    from django.core import signing

    client.post(reverse("consent:age_gate"), gate_data(_born(10), "US"))
    payload = signing.loads(client.cookies[age_gate.COOKIE_NAME].value, salt=age_gate.COOKIE_SALT)

    class DayOldSigner(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - 24 * 3600 - 60)

    client.cookies[age_gate.COOKIE_NAME] = DayOldSigner(salt=age_gate.COOKIE_SALT).sign_object(payload)

    assert client.get(reverse("consent:age_gate")).status_code == 200  # asked again


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"day": "30", "month": "2"}, "This date does not exist."),
        ({"day": ""}, "This field is required."),
        ({"month": "13"}, "Select a valid choice."),
        ({"year": "1800"}, "Select a valid choice."),
        ({"country": "XX"}, "Please choose a country from the list."),
        ({"country": ""}, "This field is required."),
        ({"country": "FR", "subdivision": "CA-QC"}, "This region is not in the country you chose."),
        ({"subdivision": "XX-YY"}, "Please choose a region from the list."),
    ],
)
def test_bad_gate_input_gets_a_clear_error_and_decides_nothing(
    client: Client, change: dict[str, str], message: str
) -> None:
    response = client.post(reverse("consent:age_gate"), {**gate_data(_born(30), "US"), **change})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert age_gate.COOKIE_NAME not in response.cookies


def test_a_birth_date_in_the_future_is_refused(client: Client) -> None:
    today = timezone.localdate()
    future = today + datetime.timedelta(days=1) if (today.month, today.day) != (12, 31) else today
    if future == today:
        pytest.skip("on 31 December no day of the year select lies in the future")
    response = client.post(reverse("consent:age_gate"), gate_data(future, "US"))
    assert response.status_code == 200
    assert "real date of birth" in response.content.decode()


def test_next_is_limited_to_the_sign_up_pages(client: Client) -> None:
    response = client.post(reverse("consent:age_gate"), {**gate_data(_born(30), "US"), "next": "https://evil.example/"})
    assert response["Location"] == reverse("account_signup")


def test_the_gate_reloads_the_reference_rules_if_the_table_was_emptied() -> None:
    """Transactional tests flush tables filled by data migrations; the gate must still decide."""
    AgeRule.objects.all().delete()

    decision = decide(birth_date=_born(12), country="US", today=TODAY)

    assert decision.outcome == AgeOutcome.CHILD
    assert AgeRule.objects.filter(superseded_at__isnull=True).count() == len(AGE_RULES)
