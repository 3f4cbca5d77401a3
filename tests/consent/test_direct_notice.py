"""The direct notice in the parent's consent email (COPPA §312.4(c), as amended in 2025), over real SMTP."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from consent.models import ThirdParty
from tests.consent.helpers import child_signup
from tests.support.smtp import SmtpSink, body_text

pytestmark = pytest.mark.django_db


def _html_text(message: Any) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", str(part.get_content())))


def test_the_consent_email_lists_the_notice_items_and_says_disclosure_consent_is_optional(
    client: Client, run_on_commit: Callable[..., Any], smtp_sink: SmtpSink
) -> None:
    ThirdParty.objects.create(
        name="Example Tutoring Ltd", purpose="Live tutoring", location="Canada", integral=False, active=True
    )

    child_signup(client, run_on_commit)

    message = smtp_sink.wait_for(to="parent@example.org", subject_contains="permission")
    for text in (body_text(message), _html_text(message)):
        assert f"Who we are: {settings.SELLER_NAME}, which runs Mindomo." in text
        assert "the username (or email address) and password your child chose" in text.lower()
        assert "No advertising, ever; nothing is sold." in text
        assert "Hetzner Online GmbH" in text
        assert "Example Tutoring Ltd" not in text  # not integral: never named as a recipient
        assert (
            "Sharing your child's data with any other provider would need your separate consent. "
            "That consent is optional: your child can use Mindomo without it."
        ) in text
        assert "as long as your child's account exists" in text.lower()
        assert "stopping any further collection or use" in text
        assert settings.CONSENT_SUPPORT_EMAIL in text
    plain = body_text(message)
    assert settings.SITE_URL + reverse("consent:portal") in plain
    assert settings.SITE_URL + reverse("privacy:retention") in plain
    assert settings.SITE_URL + reverse("privacy_policy") in plain


@pytest.mark.parametrize("language", ["ro", "de", "fr", "es"])
def test_the_direct_notice_goes_out_in_the_childs_language(
    language: str, run_on_commit: Callable[..., Any], smtp_sink: SmtpSink
) -> None:
    from django.utils import translation

    client = Client(headers={"accept-language": language})
    child_signup(client, run_on_commit)

    plain = body_text(smtp_sink.wait_for(to="parent@example.org"))
    with translation.override(language):
        optional = translation.gettext(
            "Sharing your child's data with any other provider would need your separate consent. That consent is "
            "optional: your child can use Mindomo without it."
        )
    assert optional in plain
    assert "That consent is optional" not in plain
