from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from consent.selectors import is_child_account, is_school_consented

from . import services

SESSION_KEY = "privacy_policy_ok"
EXEMPT_PREFIXES = ("/static/", "/accounts/logout/", "/privacy/", "/cookies/", "/consent/", "/i18n/", "/admin/")


class PolicyAcceptanceMiddleware:
    """After a material change of the privacy policy, a signed-in user accepts it again before going on.

    Children under parental consent are not asked: their parents are (privacy.services.policy_parents_notify);
    nor are accounts a school registered (the school consented for the educational context).
    The answer is remembered in the session per policy version, and the policy state is cached, so a request
    costs one cache read once the session knows.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not request.path.startswith(EXEMPT_PREFIXES):
            state = services.policy_state()
            if state is not None and request.session.get(SESSION_KEY) != state[0]:
                if (
                    services.policy_version_requiring_acceptance(user) is None
                    or is_child_account(user)
                    or is_school_consented(user)
                ):
                    request.session[SESSION_KEY] = state[0]
                else:
                    url = reverse("privacy:policy_accept") + "?" + urlencode({"next": request.get_full_path()})
                    return HttpResponseRedirect(url)
        return self.get_response(request)
