"""The parent portal over the API: the same single-use link, the same look-up of a parent's children
(``records_visible_to_parent``: another parent's child is a 404 like a missing one) and the same actions."""

from __future__ import annotations

import datetime
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from consent.forms import ChildDeleteForm, ChildPasswordForm, GuardianInviteForm, PortalSignInForm
from consent.models import ConsentMethod, ConsentRecord
from consent.portal import actions, reads
from consent.portal import session as portal_session
from mindomo.privacy import registry

from . import errors
from .auth import portal_of, portal_token_auth
from .errors import ApiError, responses
from .limits import client_ip, consume, session_store
from .schemas import Done, Input

router = Router(tags=["parent portal"])


class LinkIn(Input):
    email: str = Field(max_length=254)


class SessionIn(Input):
    token: str = Field(max_length=2000, description="The last part of the emailed link: /consent/parents/link/<token>/")


class SessionOut(Schema):
    portal_token: str = Field(description="Send it in the X-Portal-Token header.")
    expires_in: int


@router.post("/portal/link/", response=responses(Done, status=202), auth=None, operation_id="portal_link_request")
def portal_link(request: HttpRequest, payload: LinkIn) -> Status:
    """Email a single-use sign-in link to an address that gave consent. The answer is the same for an address we
    do not know (nothing is sent then)."""
    consume(request, kind="email")
    form = PortalSignInForm({"email": payload.email})
    if not form.is_valid():
        raise errors.from_form(form)
    try:
        portal_session.portal_link_request(email=form.cleaned_data["email"], client_ip=client_ip(request))
    except ValidationError as error:
        status = 429 if error.code in ("rate_limited", "unavailable") else 400
        raise ApiError(status, errors.from_validation_error(error).items) from error
    return Status(202, {"detail": _("If this address gave consent for a child, we emailed it a sign-in link.")})


@router.post("/portal/session/", response=responses(SessionOut, status=201), auth=None, operation_id="portal_sign_in")
def portal_sign_in(request: HttpRequest, payload: SessionIn) -> Status:
    """Exchange the emailed link's token (once) for a portal session token."""
    store = session_store()
    holder = _Holder(store)
    try:
        portal_session.portal_sign_in(request=holder, token=payload.token)  # type: ignore[arg-type]
    except ValidationError as error:
        status = {"used": 410, "unavailable": 429}.get(str(error.code), 400)
        raise ApiError(status, errors.from_validation_error(error, param="token").items) from error
    store.save()
    return Status(201, {"portal_token": store.session_key, "expires_in": settings.CONSENT_PORTAL_SESSION_SECONDS})


class _Holder:
    """What portal_sign_in needs of a request: a session (a new one, never the caller's cookie session)."""

    def __init__(self, store: Any) -> None:
        self.session = store


@router.delete("/portal/session/", response=responses(Done), auth=portal_token_auth, operation_id="portal_sign_out")
def portal_sign_out(request: HttpRequest) -> dict[str, str]:
    portal = portal_of(request)
    portal.store.delete()
    return {"detail": _("You signed out of the parent portal.")}


# --- the children ---------------------------------------------------------------------------------------------
class ChildOut(Schema):
    id: int
    username: str
    school_managed: bool
    suspended: bool
    consented_at: datetime.datetime | None


def _child(record: ConsentRecord, control: Any) -> dict[str, Any]:
    return {
        "id": record.child_id,
        "username": record.child.username,
        "school_managed": record.method == ConsentMethod.SCHOOL,
        "suspended": bool(control is not None and control.suspended_at is not None),
        "consented_at": record.granted_at,
    }


@router.get(
    "/portal/children/", response=responses(list[ChildOut]), auth=portal_token_auth, operation_id="portal_children"
)
@paginate(PageNumberPagination, page_size=50)
def portal_children(request: HttpRequest) -> list[dict[str, Any]]:
    portal = portal_of(request)
    return [_child(row["record"], row["control"]) for row in reads.children_rows(email=portal.email)]


def _record(request: HttpRequest, child_id: int) -> ConsentRecord:
    portal = portal_of(request)
    record = reads.visible_record(email=portal.email, child_id=child_id)
    if record is None:
        raise errors.not_found()
    return record


class SectionOut(Schema):
    name: str
    label: str
    summary: str
    data: Any


class EventOut(Schema):
    kind: str
    at: datetime.datetime


class AccessOut(Schema):
    at: datetime.datetime
    action: str
    record_type: str


class OverviewOut(Schema):
    child: ChildOut
    school: str | None
    guardians: list[str]
    sections: list[SectionOut]
    consent_history: list[EventOut]
    staff_accesses: list[AccessOut]


@router.get(
    "/portal/children/{child_id}/", response=responses(OverviewOut), auth=portal_token_auth, operation_id="portal_child"
)
def portal_child(request: HttpRequest, child_id: int) -> dict[str, Any]:
    """What we hold about the child (every provider of the privacy registry), the consent history and the staff's
    accesses: the same as the parent's page."""
    record = _record(request, child_id)
    portal = portal_of(request)
    page = reads.child_page(record=record, email=portal.email)

    exported = registry.export_user(record.child)
    return {
        "child": _child(record, page["control"]),
        "school": record.school.name if record.school else None,
        "guardians": page["guardians"],
        "sections": [
            {"name": s.name, "label": s.label, "summary": s.summary, "data": exported.get(s.name)}
            for s in page["sections"]
        ],
        "consent_history": [{"kind": e.kind, "at": e.at} for e in page["ledger"]],
        "staff_accesses": [{"at": a["at"], "action": a["action"], "record_type": a["model"]} for a in page["accesses"]],
    }


def _not_for_school_children(record: ConsentRecord) -> None:
    if record.method == ConsentMethod.SCHOOL:
        raise ApiError.one(
            403,
            "school_managed",
            _("The school registered this child: ask the school (the parent portal on the website sends the request)."),
        )


class PasswordIn(Input):
    password: str = Field(max_length=4096)


@router.post(
    "/portal/children/{child_id}/password/",
    response=responses(Done),
    auth=portal_token_auth,
    operation_id="portal_child_password",
)
def portal_child_password(request: HttpRequest, child_id: int, payload: PasswordIn) -> dict[str, str]:
    record = _record(request, child_id)
    _not_for_school_children(record)
    consume(request, kind="password")
    form = ChildPasswordForm({"password1": payload.password, "password2": payload.password})
    if not form.is_valid():
        raise errors.from_form(form, fields={"password1": "password", "password2": "password"})
    portal = portal_of(request)
    try:
        actions.portal_child_set_password(record=record, parent_email=portal.email, password=payload.password)
    except ValidationError as error:
        raise errors.from_validation_error(error, param="password") from error
    return {"detail": _("The new password is set. Your child signs in with it from now on.")}


class CollectionIn(Input):
    action: Literal["stop", "resume"]


@router.post(
    "/portal/children/{child_id}/collection/",
    response=responses(ChildOut),
    auth=portal_token_auth,
    operation_id="portal_child_collection",
)
def portal_child_collection(request: HttpRequest, child_id: int, payload: CollectionIn) -> dict[str, Any]:
    """Stop collection (the account is paused: no sign-in, its sessions end) or resume it."""
    record = _record(request, child_id)
    _not_for_school_children(record)
    portal = portal_of(request)
    try:
        if payload.action == "stop":
            actions.portal_child_suspend(record=record, parent_email=portal.email)
        else:
            actions.portal_child_resume(record=record, parent_email=portal.email)
    except ValidationError as error:
        raise errors.from_validation_error(error) from error
    row = next(r for r in reads.children_rows(email=portal.email) if r["record"].pk == record.pk)
    return _child(row["record"], row["control"])


@router.get(
    "/portal/children/{child_id}/download/",
    response=errors.error_responses(),
    auth=portal_token_auth,
    operation_id="portal_child_download",
    openapi_extra={"responses": {"200": {"description": "The zip", "content": {"application/zip": {}}}}},
)
def portal_child_download(request: HttpRequest, child_id: int) -> Any:
    record = _record(request, child_id)
    try:
        archive = actions.portal_child_archive(record=record)
    except ValidationError as error:
        raise errors.not_found() from error  # a school-registered child's data is asked of the school
    return FileResponse(
        archive,
        as_attachment=True,
        filename=f"mindomo-child-{record.child_id}-data.zip",
        content_type="application/zip",
    )


class DeleteIn(Input):
    action: Literal["delete", "withdraw"]
    confirm: bool


class DeleteOut(Schema):
    erased: bool
    withdrawn: bool


@router.post(
    "/portal/children/{child_id}/delete/",
    response=responses(DeleteOut),
    auth=portal_token_auth,
    operation_id="portal_child_delete",
)
def portal_child_delete(request: HttpRequest, child_id: int, payload: DeleteIn) -> dict[str, Any]:
    """Delete the child's account and data now (or withdraw consent, which does the same), after confirmation."""
    record = _record(request, child_id)
    _not_for_school_children(record)
    form = ChildDeleteForm({"action": payload.action, "confirm": payload.confirm})
    if not form.is_valid():
        raise errors.from_form(form)
    portal = portal_of(request)
    withdraw = payload.action == "withdraw"
    try:
        erased = actions.portal_child_erase(record=record, parent_email=portal.email, withdraw=withdraw)
    except ValidationError as error:
        raise errors.from_validation_error(error) from error
    return {"erased": erased, "withdrawn": withdraw}


class GuardianIn(Input):
    email: str = Field(max_length=254)


@router.post(
    "/portal/children/{child_id}/guardians/",
    response=responses(Done, status=201),
    auth=portal_token_auth,
    operation_id="portal_guardian_invite",
)
def portal_guardian_invite(request: HttpRequest, child_id: int, payload: GuardianIn) -> Status:
    record = _record(request, child_id)
    _not_for_school_children(record)
    consume(request, kind="email")
    form = GuardianInviteForm({"email": payload.email})
    if not form.is_valid():
        raise errors.from_form(form)
    portal = portal_of(request)
    try:
        actions.portal_guardian_invite(
            record=record, parent_email=portal.email, guardian_email=form.cleaned_data["email"]
        )
    except ValidationError as error:
        raise errors.from_validation_error(error, param="email") from error
    return Status(201, {"detail": _("We told the second guardian how to sign in. They have the same rights as you.")})
