from collections.abc import Iterator

import pytest
from django.conf import settings
from django.utils import translation


@pytest.fixture(autouse=True)
def _default_language_after_each_test() -> Iterator[None]:
    """Requests in another language leave it active in the thread: put English back for the next test."""
    yield
    translation.activate(settings.LANGUAGE_CODE)
