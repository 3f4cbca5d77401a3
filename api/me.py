"""The signed-in person: profile, self-service privacy (export, deletion), cookie/analytics choice.

The same forms, services and selectors as the pages (accounts, analytics). Linked providers are listed and
disconnected through allauth's headless endpoints (``/_allauth/{client}/v1/account/providers``), with our adapter's
rule that the last way to sign in cannot be disconnected.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Literal

from allauth.core import ratelimit
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from accounts import selectors as account_selectors
from accounts import services as account_services
from accounts.forms import AccountDeletionPasswordForm, ProfileForm
from accounts.models import DataExport
from analytics import selectors as analytics_selectors
from analytics import services as analytics_services

from . import errors
from .auth import user_of
from .errors import ApiError, responses
from .limits import consume
from .schemas import Input

router = Router(tags=["me"])


class ProfileOut(Schema):
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    country: str
    product_updates: bool
    restricted: bool = Field(description="A child's or school account: no name, no marketing, no linked services.")


class ProfileIn(Input):
    first_name: str = Field(max_length=300)
    last_name: str = Field(max_length=300)
    country: str = Field(max_length=2)
    product_updates: bool = False


def _profile(user: Any) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "country": str(user.country or ""),
        "product_updates": user.product_updates,
        "restricted": account_selectors.user_is_child_or_school_account(user),
    }


@router.get("/me/profile/", response=responses(ProfileOut), operation_id="profile_read")
def profile_read(request: HttpRequest) -> dict[str, Any]:
    return _profile(user_of(request))


@router.put("/me/profile/", response=responses(ProfileOut), operation_id="profile_update")
def profile_update(request: HttpRequest, payload: ProfileIn) -> dict[str, Any]:
    """Correct first and last name and country; the product-update choice (never offered to children)."""
    user = user_of(request)
    if account_selectors.user_is_child_or_school_account(user):
        raise ApiError.one(403, "not_offered", _("This account has no name or country to correct."))
    form = ProfileForm(payload.dict())
    if not form.is_valid():
        raise errors.from_form(form)
    form.save(user=user)
    return _profile(user)


# --- data export ----------------------------------------------------------------------------------------------
class ExportOut(Schema):
    id: uuid.UUID
    state: str
    parts_done: int
    parts_total: int
    requested_at: datetime.datetime
    ready_at: datetime.datetime | None
    expires_at: datetime.datetime | None
    download_url: str | None


def _export(export: DataExport) -> dict[str, Any]:
    ready = export.state == DataExport.State.READY
    return {
        "id": export.public_id,
        "state": export.state,
        "parts_done": export.parts_done,
        "parts_total": export.parts_total,
        "requested_at": export.requested_at,
        "ready_at": export.ready_at,
        "expires_at": export.expires_at,
        "download_url": f"/api/v1/me/exports/{export.public_id}/download/" if ready else None,
    }


@router.get("/me/exports/", response=responses(list[ExportOut]), operation_id="exports_list")
@paginate(PageNumberPagination, page_size=20)
def exports_list(request: HttpRequest) -> list[dict[str, Any]]:
    exports = account_selectors.data_exports_visible_to(viewer=user_of(request)).order_by("-requested_at", "-pk")
    return [_export(e) for e in exports[:200]]


@router.post("/me/exports/", response=responses(ExportOut, status=201), operation_id="export_request")
def export_request(request: HttpRequest) -> Status:
    """Ask for a copy of everything we hold (built by a Celery task; an email says when it is ready)."""
    consume(request, kind="email")
    try:
        export = account_services.data_export_request(user=user_of(request))
    except ValidationError as error:
        raise errors.from_validation_error(error) from error
    return Status(201, _export(export))


@router.get("/me/exports/{export_id}/", response=responses(ExportOut), operation_id="export_read")
def export_read(request: HttpRequest, export_id: uuid.UUID) -> dict[str, Any]:
    export = get_object_or_404(account_selectors.data_exports_visible_to(viewer=user_of(request)), public_id=export_id)
    return _export(export)


@router.get(
    "/me/exports/{export_id}/download/",
    response=errors.error_responses(extra={410: errors.ErrorOut}),
    operation_id="export_download",
    openapi_extra={"responses": {"200": {"description": "The zip", "content": {"application/zip": {}}}}},
)
def export_download(request: HttpRequest, export_id: uuid.UUID) -> Any:
    export = get_object_or_404(account_selectors.data_exports_visible_to(viewer=user_of(request)), public_id=export_id)
    handle = account_services.data_export_open(export)
    if handle is None:
        raise ApiError.one(410, "gone", _("This export is not ready, or it expired and its file was deleted."))
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"mindomo-data-{export.ready_at:%Y-%m-%d}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    return response


# --- account deletion ---------------------------------------------------------------------------------------
class DeletionIn(Input):
    password: str = Field(max_length=4096)
    understood: bool


class DeletionOut(Schema):
    erase_after: datetime.datetime
    detail: str


@router.post("/me/deletion/", response=responses(DeletionOut, status=202), operation_id="deletion_schedule")
def deletion_schedule(request: HttpRequest, payload: DeletionIn) -> Status:
    """Schedule the deletion: the account is deactivated now (every session and token ends) and erased after
    the grace period. Signing in again during the grace period (allauth's login) cancels it."""
    user = user_of(request)
    if not user.has_usable_password():
        raise ApiError.one(
            403,
            "reauthentication_required",
            _("This account has no password: delete it from the website after signing in with your service."),
        )
    consume(request, kind="password")
    if ratelimit.consume_or_429(request, action="reauthenticate", user=user) is not None:
        raise ApiError.one(429, "rate_limited", _("Too many requests. Please wait a little and try again."))
    form = AccountDeletionPasswordForm({"password": payload.password, "understood": payload.understood}, user=user)
    if not form.is_valid():
        raise errors.from_form(form)
    try:
        deletion = account_services.account_deletion_request(user=user, reauthenticated_by="password")
    except ValidationError as error:
        raise errors.from_validation_error(error) from error
    detail = _("Your account is closed and will be deleted. Sign in again before then to cancel.")
    return Status(202, {"erase_after": deletion.erase_after, "detail": detail})


# --- cookies and analytics ----------------------------------------------------------------------------------
class CookieChoiceOut(Schema):
    offered: bool = Field(description="False for children and school accounts: analytics are never used.")
    choice: Literal["analytics", "essential"] | None


class CookieChoiceIn(Input):
    choice: Literal["analytics", "essential"]


@router.get("/me/cookies/", response=responses(CookieChoiceOut), operation_id="cookie_choice_read")
def cookie_choice_read(request: HttpRequest) -> dict[str, Any]:
    exempt, choice = analytics_selectors.account_state(user_of(request))
    return {"offered": not exempt, "choice": None if exempt else choice}


@router.put("/me/cookies/", response=responses(CookieChoiceOut), operation_id="cookie_choice_update")
def cookie_choice_update(request: HttpRequest, payload: CookieChoiceIn) -> dict[str, Any]:
    try:
        analytics_services.cookie_consent_record(user=user_of(request), choice=payload.choice, now=timezone.now())
    except ValidationError as error:
        raise ApiError(403, errors.from_validation_error(error).items) from error
    return {"offered": True, "choice": payload.choice}
