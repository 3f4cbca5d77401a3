"""A prepared file's progress page, its status (JSON, polled by static/js/site.js) and its download. Each asks
the kind's ``allowed`` check: anyone else, and a file that does not exist, get the same 404."""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from mindomo.redaction import referrer_origin_only

from . import registry, services
from .models import PreparedFile


def _visible(request: HttpRequest, public_id: UUID) -> tuple[PreparedFile, registry.Kind]:
    prepared = PreparedFile.objects.filter(public_id=public_id).first()
    kind = registry.get(prepared.kind) if prepared is not None else None
    if prepared is None or kind is None or not kind.allowed(request, prepared):
        raise Http404
    return prepared, kind


def _status(prepared: PreparedFile) -> dict[str, object]:
    finished = prepared.state not in (PreparedFile.State.PENDING, PreparedFile.State.BUILDING)
    ready = prepared.state == PreparedFile.State.READY
    if ready:
        text = _("Your file is ready.")
    elif prepared.state == PreparedFile.State.FAILED:
        text = prepared.error or _("The file could not be prepared. Please try again.")
    elif finished:
        text = _("Expired: the file was deleted.")
    elif prepared.state == PreparedFile.State.PENDING:
        text = _("Waiting for its turn…")
    else:
        text = ngettext(
            "%(done)s of %(total)s part prepared", "%(done)s of %(total)s parts prepared", prepared.parts_total
        ) % {"done": prepared.parts_done, "total": prepared.parts_total}
    data: dict[str, object] = {
        "state": prepared.state,
        "done": prepared.parts_done,
        "total": prepared.parts_total,
        "text": text,
        "finished": finished,
    }
    if ready:
        data["link_url"] = reverse("downloads:download", args=[prepared.public_id])
        data["link_label"] = _("Download %(name)s") % {"name": prepared.download_name}
    return data


@referrer_origin_only
@never_cache
@require_GET
def progress(request: HttpRequest, public_id: UUID) -> HttpResponse:
    try:
        prepared, kind = _visible(request, public_id)
    except Http404:
        # The link of the "ready" email, opened where nobody is signed in: to the sign-in the file's kind uses
        # (the account's, or the parent portal's), which leads back here. An unknown id goes to the account's.
        found = PreparedFile.objects.filter(public_id=public_id).values_list("kind", flat=True).first()
        found_kind = registry.get(found) if found else None
        if found_kind is None:
            if request.user.is_authenticated:
                raise
            return redirect_to_login(request.get_full_path(), reverse("account_login"))
        if found_kind.signed_in(request):
            raise
        return redirect_to_login(request.get_full_path(), reverse(found_kind.sign_in))
    context = {
        "prepared": prepared,
        "title": kind.title,
        "back_url": kind.back_url(prepared),
        "status": _status(prepared),
        "emailed": bool(services.prepared_file_recipient(prepared)),
        "notify_minutes": services.notify_after_minutes(),
    }
    return render(request, "downloads/progress.html", context)


@never_cache
@require_GET
def status(request: HttpRequest, public_id: UUID) -> JsonResponse:
    prepared, _kind = _visible(request, public_id)
    return JsonResponse(_status(prepared), headers={"Cache-Control": "no-store"})


@never_cache
@require_GET
def download(request: HttpRequest, public_id: UUID) -> HttpResponseBase:
    prepared, kind = _visible(request, public_id)
    handle = services.prepared_file_open(prepared)
    if handle is None:
        context = {"prepared": prepared, "title": kind.title, "back_url": kind.back_url(prepared), "gone": True}
        return render(request, "downloads/progress.html", {**context, "status": _status(prepared)}, status=410)
    response = FileResponse(
        handle, as_attachment=True, filename=prepared.download_name, content_type=prepared.content_type
    )
    response["Cache-Control"] = "private, no-store"
    return response
