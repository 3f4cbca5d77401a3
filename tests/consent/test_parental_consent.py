"""A child's sealed sign-up, the parent's emailed link, approval, refusal, and every broken link variant."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from consent import selectors, services
from consent.age_gate import decide
from consent.models import AgeDecision, AgeOutcome, ConsentMethod, ConsentRecord, LedgerEntry, PendingSignup
from consent.reference_data import ensure_loaded
from mindomo.outbox import services as services_outbox
from mindomo.outbox.models import Delivery
from tests.consent.factories import make_user
from tests.consent.helpers import CHILD_PASSWORD, birth_date_for_age, child_signup, parent_link, pass_age_gate
from tests.support.dbscan import tables_containing
from tests.support.mfa import sign_in

pytestmark = pytest.mark.django_db


def test_a_child_signs_up_and_the_parent_is_emailed_a_link_with_what_is_collected(
    client: Client, run_on_commit: Callable[..., Any]
) -> None:
    response = child_signup(client, run_on_commit)

    assert response.status_code == 302
    assert response["Location"] == reverse("consent:child_sent")
    assert "asked your parent" in client.get(reverse("consent:child_sent")).content.decode()
    pending = PendingSignup.objects.get()
    assert pending.parent_email == "parent@example.org"
    assert pending.country == "US"
    assert User.objects.count() == 0
    (message,) = mail.outbox
    assert message.to == ["parent@example.org"]
    html = str(message.alternatives[0][0])
    for body in (str(message.body), html):
        assert "/consent/parent/" in body
        assert "Hetzner Online GmbH" in body
        assert "Amazon Web Services" in body
        assert "Braintree" not in body  # not integral: never receives a child's data
        assert "7 days" in body
        for right in ("overview", "login details", "deletion", "stopping any further collection"):
            assert right in body
    assert LedgerEntry.objects.filter(kind="requested").count() == 1


def test_the_sealed_record_holds_nothing_readable_about_the_child(
    client: Client, run_on_commit: Callable[..., Any]
) -> None:
    child_signup(client, run_on_commit, login="secret.kid.name")
    pending = PendingSignup.objects.get()

    for needle in ("secret.kid.name", "secret", CHILD_PASSWORD, "argon2"):
        assert tables_containing(needle) == {}, needle
    # The database alone cannot open the seal: the key is in the parent's link only.
    link_key = parent_link().rstrip("/").split("/")[-1]
    assert link_key not in str(PendingSignup.objects.values().get())
    with pytest.raises(services.ConsentLinkError):
        services.pending_signup_open(public_id=pending.public_id, key=services.login_digest("secret.kid.name")[:44])
    # The keyed hash needs the server's secret: a plain hash of the login does not match it.
    import hashlib

    assert pending.login_digest != hashlib.sha256(b"secret.kid.name").hexdigest()
    assert pending.login_digest == services.login_digest("Secret.Kid.Name")


def test_get_on_the_parent_link_changes_nothing(client: Client, run_on_commit: Callable[..., Any]) -> None:
    child_signup(client, run_on_commit)
    link = parent_link()
    scanner = Client()

    for _ in range(2):
        response = scanner.get(link)
        assert response.status_code == 200
    html = response.content.decode()
    assert "mia2016" in html
    assert "Hetzner Online GmbH" in html
    assert PendingSignup.objects.count() == 1
    assert User.objects.count() == 0


def test_the_parent_approves_and_the_child_logs_in_with_the_chosen_password(
    client: Client, run_on_commit: Callable[..., Any]
) -> None:
    child_signup(client, run_on_commit)
    link = parent_link()
    parent = Client()

    response = run_on_commit(parent.post, link, {"action": "approve", "guardian": "on"})

    assert response.status_code == 200
    assert "Account approved" in response.content.decode()
    child = User.objects.get(username="mia2016")
    assert child.is_active
    assert child.country.code == "US"
    assert child.email == ""
    record = ConsentRecord.objects.get(child=child)
    assert (record.method, record.parent_email, record.policy_version) == (
        ConsentMethod.EMAIL_PLUS,
        "parent@example.org",
        "2026-11-30",  # the version in force (privacy.services.policy_version_in_force)
    )
    assert record.rule is not None
    assert record.rule.country == "US"
    assert record.rule.version == 1
    # The email-plus follow-up waits in the outbox until CONSENT_FOLLOW_UP_DELAY after the approval.
    follow_up = Delivery.objects.get(kind="consent.follow_up", user=child)
    assert follow_up.status == Delivery.Status.PENDING
    assert follow_up.to_email == "parent@example.org"
    assert follow_up.due_at == record.granted_at + timedelta(seconds=settings.CONSENT_FOLLOW_UP_DELAY)
    decision = AgeDecision.objects.get(user=child)
    assert decision.outcome == AgeOutcome.CHILD
    assert decision.consent_month is not None
    assert PendingSignup.objects.count() == 0
    assert record.follow_up_sent_at is None
    assert services_outbox.delivery_send(delivery_id=follow_up.pk, now=follow_up.due_at) == "sent"
    follow_up.refresh_from_db()
    record.refresh_from_db()
    assert record.follow_up_sent_at == follow_up.sent_at is not None  # the evidence outlives the outbox row
    subjects = [m.subject for m in mail.outbox if m.to == ["parent@example.org"]]
    assert any("You approved" in s for s in subjects)
    assert any("About your consent" in s for s in subjects)
    follow_up_email = next(m for m in mail.outbox if "About your consent" in m.subject)
    assert "withdraw" in follow_up_email.body
    assert selectors.is_child_account(child)
    assert not selectors.user_may_purchase(child)

    response = client.post(reverse("account_login"), {"login": "mia2016", "password": CHILD_PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(child.pk)


def test_the_parent_refuses_and_the_request_and_the_parent_address_are_deleted_at_once(
    client: Client, run_on_commit: Callable[..., Any]
) -> None:
    child_signup(client, run_on_commit)
    link = parent_link()
    assert set(tables_containing("parent@example.org")) == {"consent_pendingsignup"}

    response = Client().post(link, {"action": "refuse"})

    assert response.status_code == 200
    assert "Request refused" in response.content.decode()
    assert PendingSignup.objects.count() == 0
    assert User.objects.count() == 0
    assert tables_containing("parent@example.org") == {}
    assert LedgerEntry.objects.filter(kind="refused", actor="parent").count() == 1


def test_approval_needs_the_parent_to_confirm_being_the_guardian(
    client: Client, run_on_commit: Callable[..., Any]
) -> None:
    child_signup(client, run_on_commit)

    response = Client().post(parent_link(), {"action": "approve"})

    assert response.status_code == 200
    assert "confirm that you are the child" in response.content.decode()
    assert User.objects.count() == 0
    assert PendingSignup.objects.count() == 1


@pytest.mark.parametrize("action", ["", "delete-everything"])
def test_a_post_without_a_valid_answer_changes_nothing(
    client: Client, run_on_commit: Callable[..., Any], action: str
) -> None:
    child_signup(client, run_on_commit)
    response = Client().post(parent_link(), {"action": action, "guardian": "on"})
    assert response.status_code == 200
    assert User.objects.count() == 0
    assert PendingSignup.objects.count() == 1


# --- broken links ------------------------------------------------------------------------------------
def _tamper_key(link: str) -> str:
    head, key = link.rstrip("/").rsplit("/", 1)
    flipped = ("B" if key[5] != "B" else "C").join([key[:5], key[6:]])
    return f"{head}/{flipped}/"


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_link_gets_a_clear_page_and_changes_nothing(
    client: Client, run_on_commit: Callable[..., Any], method: str
) -> None:
    child_signup(client, run_on_commit)
    bad = _tamper_key(parent_link())

    response = getattr(Client(), method)(bad, {"action": "approve", "guardian": "on"})

    assert response.status_code == 400
    assert "damaged or belongs to another request" in response.content.decode()
    assert User.objects.count() == 0
    assert PendingSignup.objects.count() == 1


def test_another_childs_key_does_not_open_a_request(client: Client, run_on_commit: Callable[..., Any]) -> None:
    child_signup(client, run_on_commit, login="first.child", parent="one@example.org")
    child_signup(Client(), run_on_commit, login="second.child", parent="two@example.org")
    first, second = parent_link("one@example.org"), parent_link("two@example.org")
    mixed = first.rstrip("/").rsplit("/", 1)[0] + "/" + second.rstrip("/").rsplit("/", 1)[1] + "/"

    for action in ("approve", "refuse"):
        response = Client().post(mixed, {"action": action, "guardian": "on"})
        assert response.status_code == 400
    assert PendingSignup.objects.count() == 2
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    "path", ["/consent/parent/nope/abc/", "/consent/parent/x/" + "A" * 44 + "/", "/consent/parent/%00/abc/"]
)
def test_unknown_or_malformed_links_get_a_clear_page(db: Any, path: str) -> None:
    response = Client().get(path)
    if "%00" in path:  # invalid characters are refused before any view runs (mindomo.middleware)
        assert response.status_code == 400
        return
    assert response.status_code in {404, 410}
    if response.status_code == 410:
        assert "no longer open" in response.content.decode()


def test_an_expired_link_gets_a_clear_page_and_changes_nothing(
    client: Client, run_on_commit: Callable[..., Any]
) -> None:
    child_signup(client, run_on_commit)
    link = parent_link()
    now = timezone.now()  # a week goes by
    PendingSignup.objects.update(created_at=now - timedelta(days=7, seconds=1), expires_at=now - timedelta(seconds=1))

    response = Client().post(link, {"action": "approve", "guardian": "on"})

    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert User.objects.count() == 0
    assert PendingSignup.objects.count() == 1


def test_a_used_link_and_a_double_submit_of_the_approval_create_one_account(
    client: Client, run_on_commit: Callable[..., Any]
) -> None:
    child_signup(client, run_on_commit)
    link = parent_link()
    parent = Client()

    first = run_on_commit(parent.post, link, {"action": "approve", "guardian": "on"})
    second = run_on_commit(parent.post, link, {"action": "approve", "guardian": "on"})
    later_get = parent.get(link)

    assert first.status_code == 200
    assert second.status_code == 410
    assert "already approved" in second.content.decode()
    assert later_get.status_code == 410
    assert User.objects.count() == 1
    assert ConsentRecord.objects.count() == 1
    assert len([m for m in mail.outbox if "You approved" in m.subject]) == 1


def test_a_refused_link_cannot_be_approved_afterwards(client: Client, run_on_commit: Callable[..., Any]) -> None:
    child_signup(client, run_on_commit)
    link = parent_link()
    Client().post(link, {"action": "refuse"})

    response = Client().post(link, {"action": "approve", "guardian": "on"})

    assert response.status_code == 410
    assert "no longer open" in response.content.decode()
    assert User.objects.count() == 0


# --- the child's form ----------------------------------------------------------------------------------
def test_a_child_naming_their_own_email_as_the_parents_is_refused(
    client: Client, run_on_commit: Callable[..., Any]
) -> None:
    response = child_signup(client, run_on_commit, login="Kid@Example.org", parent="kid@example.ORG")

    assert response.status_code == 200
    assert "must be different from yours" in response.content.decode()
    assert PendingSignup.objects.count() == 0
    assert len(mail.outbox) == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("login", "", "This field is required."),
        ("login", "<script>", "letters, digits and @ . + - _ only"),
        ("login", "kid@", "Enter a valid email address."),
        ("parent_email", "not-an-email", "Enter a valid email address."),
        ("password2", "something-else-entirely", "The two passwords are not the same."),
        ("password1", "123", "too short"),
    ],
)
def test_bad_child_input_gets_a_clear_error_and_stores_nothing(
    client: Client, field: str, value: str, message: str
) -> None:
    pass_age_gate(client, age=9, country="US")
    data = {"login": "kiddo", "password1": CHILD_PASSWORD, "password2": CHILD_PASSWORD, "parent_email": "p@example.org"}
    if field == "password1":
        data["password2"] = value
    data[field] = value

    response = client.post(reverse("consent:child_signup"), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert PendingSignup.objects.count() == 0
    assert len(mail.outbox) == 0


def test_a_taken_or_pending_login_is_refused(client: Client, run_on_commit: Callable[..., Any]) -> None:
    make_user(username="taken.name")
    response = child_signup(client, run_on_commit, login="TAKEN.name")
    assert "already taken" in response.content.decode()

    child_signup(Client(), run_on_commit, login="reserved.kid", parent="a@example.org")
    response = child_signup(Client(), run_on_commit, login="Reserved.Kid", parent="b@example.org")
    assert "already taken" in response.content.decode()
    assert PendingSignup.objects.count() == 1


@pytest.mark.parametrize("path", ["consent:child_signup", "consent:child_sent"])
def test_the_child_pages_need_a_child_decision(client: Client, path: str) -> None:
    ensure_loaded()
    if path == "consent:child_signup":
        assert client.get(reverse(path))["Location"] == reverse("consent:age_gate")
        pass_age_gate(client, age=30, country="US")
        assert client.get(reverse(path))["Location"] == reverse("account_signup")
    else:
        assert "Send the email again" not in client.get(reverse(path)).content.decode()


def test_an_adult_posting_the_child_form_creates_nothing(client: Client) -> None:
    pass_age_gate(client, age=30, country="US")
    data = {"login": "kiddo", "password1": CHILD_PASSWORD, "password2": CHILD_PASSWORD, "parent_email": "p@example.org"}
    response = client.post(reverse("consent:child_signup"), data)
    assert response.status_code == 302
    assert PendingSignup.objects.count() == 0


# --- resending ----------------------------------------------------------------------------------------
def test_the_child_may_resend_from_the_same_browser_a_limited_number_of_times(
    client: Client, run_on_commit: Callable[..., Any], settings: Any
) -> None:
    settings.CONSENT_RESEND_MAX = 2
    child_signup(client, run_on_commit)
    first_link = parent_link()

    for _ in range(2):
        response = run_on_commit(client.post, reverse("consent:child_sent"), follow=True)
        assert "sent the email to your parent again" in response.content.decode()
    response = run_on_commit(client.post, reverse("consent:child_sent"), follow=True)

    assert "as many times as allowed" in response.content.decode()
    assert len([m for m in mail.outbox if "permission" in m.subject]) == 3
    assert parent_link() == first_link  # the same key: the earlier emails keep working
    assert PendingSignup.objects.get().resend_count == 2


def test_another_browser_cannot_resend(client: Client, run_on_commit: Callable[..., Any]) -> None:
    child_signup(client, run_on_commit)
    other = Client()
    response = run_on_commit(other.post, reverse("consent:child_sent"), follow=True)
    assert "holds no open request" in response.content.decode()
    assert len(mail.outbox) == 1


def test_at_most_a_few_emails_per_parent_address_per_day_whatever_the_children(
    run_on_commit: Callable[..., Any], settings: Any, db: Any
) -> None:
    settings.CONSENT_EMAILS_PER_PARENT_PER_DAY = 3
    for n in range(3):
        response = child_signup(Client(), run_on_commit, login=f"sibling{n}", parent="busy@example.org")
        assert response.status_code == 302

    response = child_signup(Client(), run_on_commit, login="sibling9", parent="BUSY@example.org")

    assert response.status_code == 200
    assert "Too many requests" in response.content.decode()
    assert PendingSignup.objects.count() == 3
    assert len(mail.outbox) == 3


# --- concurrency -------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_concurrent_approve_and_refuse_exactly_one_wins() -> None:
    ensure_loaded()

    decision = decide(birth_date=birth_date_for_age(9), country="US", today=timezone.now().date())
    outcomes: dict[str, str] = {}
    for round_ in range(3):
        sealed = services.pending_signup_create(
            login=f"race{round_}", password=CHILD_PASSWORD, parent_email=f"p{round_}@example.org", decision=decision
        )
        barrier = threading.Barrier(2)

        def answer(
            action: str,
            sealed: services.SealedRequest = sealed,
            barrier: threading.Barrier = barrier,
            round_: int = round_,
        ) -> None:
            barrier.wait()
            try:
                if action == "approve":
                    services.pending_signup_approve(public_id=sealed.public_id, key=sealed.key, guardian_confirmed=True)
                else:
                    services.pending_signup_refuse(public_id=sealed.public_id, key=sealed.key)
                outcomes[f"{round_}-{action}"] = "won"
            except services.ConsentLinkError as error:
                outcomes[f"{round_}-{action}"] = str(error.code)
            finally:
                connection.close()

        threads = [threading.Thread(target=answer, args=(a,)) for a in ("approve", "refuse")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        results = [outcomes[f"{round_}-approve"], outcomes[f"{round_}-refuse"]]
        assert results.count("won") == 1, outcomes
        assert set(results) - {"won"} <= {"answered", "approved"}, outcomes
        approved = outcomes[f"{round_}-approve"] == "won"
        assert User.objects.filter(username=f"race{round_}").exists() is approved
        assert ConsentRecord.objects.filter(child__username=f"race{round_}").exists() is approved
    assert PendingSignup.objects.count() == 0


def test_the_parent_page_and_the_gate_issue_a_constant_number_of_queries(
    client: Client, run_on_commit: Callable[..., Any], django_assert_max_num_queries: Any
) -> None:
    child_signup(client, run_on_commit)
    link = parent_link()

    with django_assert_max_num_queries(4):
        assert Client().get(link).status_code == 200
    with django_assert_max_num_queries(2):
        assert Client().get(reverse("consent:age_gate")).status_code == 200


def test_a_child_who_chose_an_email_login_verifies_it_at_first_sign_in(
    client: Client, run_on_commit: Callable[..., Any]
) -> None:
    from allauth.account.models import EmailAddress

    child_signup(client, run_on_commit, login="kid.at.home@example.org")
    run_on_commit(Client().post, parent_link(), {"action": "approve", "guardian": "on"})

    child = User.objects.get(username="kid.at.home@example.org")
    assert EmailAddress.objects.get(user=child).verified is False
    response = run_on_commit(
        client.post, reverse("account_login"), {"login": "kid.at.home@example.org", "password": CHILD_PASSWORD}
    )
    assert response["Location"] == reverse("account_email_verification_sent")
    assert any(m.to == ["kid.at.home@example.org"] for m in mail.outbox)


@pytest.mark.parametrize("role", ["anonymous", "member", "superuser"])
def test_the_parent_link_obeys_its_key_whoever_opens_it(
    client: Client, run_on_commit: Callable[..., Any], role: str
) -> None:
    """Being signed in (even as staff) grants nothing: only the key in the link opens the request."""
    child_signup(client, run_on_commit)
    link = parent_link()
    visitor = Client()
    if role != "anonymous":
        sign_in(visitor, make_user(is_staff=role == "superuser", is_superuser=role == "superuser"))

    assert visitor.post(_tamper_key(link), {"action": "refuse"}).status_code == 400
    assert visitor.get(link).status_code == 200
    assert PendingSignup.objects.count() == 1
    assert visitor.post(link, {"action": "refuse"}).status_code == 200
    assert PendingSignup.objects.count() == 0
