"""Our own 400/403/404/500 pages and the CSRF failure page: never Django's bare defaults."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.template import loader
from django.test import Client
from django.urls import path, reverse

from mindomo import urls as root_urls


def test_a_missing_page_is_our_404_with_the_menu_and_a_way_home(client: Client) -> None:
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "We could not find that page" in html
    assert 'aria-label="Main"' in html
    assert f'href="{reverse("home")}"' in html
    assert "Not Found" not in html  # Django's default


def _forbidden(request: Any) -> Any:
    raise PermissionDenied


urlpatterns = [path("forbidden/", _forbidden), *root_urls.urlpatterns]


def test_a_forbidden_page_is_our_403(member_client: Client, settings: Any) -> None:
    settings.ROOT_URLCONF = __name__
    response = member_client.get("/forbidden/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "You cannot open this page" in html
    assert 'data-nav="sign_out"' in html  # the page keeps the person's menu
    assert "403 Forbidden" not in html  # Django's default


def test_the_500_page_renders_without_a_request_context() -> None:
    html = loader.get_template("500.html").render()  # what django.views.defaults.server_error does
    assert "Something went wrong on our side" in html
    assert '<link rel="stylesheet" href="/static/css/site.css">' in html


@pytest.mark.django_db
def test_a_server_error_shows_our_500_page(settings: Any) -> None:
    from django.test import RequestFactory
    from django.views.defaults import server_error

    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


@pytest.mark.django_db
def test_a_csrf_failure_shows_our_page(settings: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("account_login"), {"login": "x", "password": "y"})
    html = response.content.decode()
    assert response.status_code == 403
    assert "Please try again" in html
    assert "CSRF verification failed" not in html
