"""Every look by staff at a record holding personal data leaves a row in the access log.

Which models hold personal data is what the apps declare in the privacy registry, so the admin of any such
model is audited without the app doing anything more: ``install`` wraps each one's ``get_object`` (used by
the change, delete and history views) once the admin and the registry are loaded.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import ForeignKey, Model
from django.http import HttpRequest

from mindomo.privacy import registry

from . import services
from .models import AccessLog


def _subject_id(obj: Model, subject_field: str) -> int | None:
    if obj._meta.label == settings.AUTH_USER_MODEL:
        return int(obj.pk)
    if subject_field:
        value = getattr(obj, subject_field, None)
        return int(value) if value is not None else None
    for model_field in obj._meta.fields:
        if isinstance(model_field, ForeignKey) and model_field.related_model._meta.label == settings.AUTH_USER_MODEL:
            value = getattr(obj, model_field.attname)
            if value is not None:
                return int(value)
    return None


def _action(request: HttpRequest) -> str:
    name = request.resolver_match.url_name if request.resolver_match else ""
    if name and name.endswith("_delete"):
        return AccessLog.Action.DELETE
    if name and name.endswith("_history"):
        return AccessLog.Action.HISTORY
    return AccessLog.Action.CHANGE if request.method == "POST" else AccessLog.Action.VIEW


def personal_data_models() -> dict[str, str]:
    """{model label: subject field} for every model the registry declares."""
    return {declaration.model: declaration.subject for _p, declaration in registry.declarations()}


def install(site: admin.AdminSite = admin.site) -> list[str]:

    audited = []
    personal = personal_data_models()
    for model, model_admin in site._registry.items():
        label = model._meta.label
        # The access log itself is not personal data about anyone's use of the service: reading it is not logged.
        if label not in personal or label == "privacy.AccessLog" or getattr(model_admin, "_access_logged", False):
            continue
        original = model_admin.get_object
        subject_field = personal[label]

        @wraps(original)
        def get_object(
            request: HttpRequest,
            object_id: str,
            from_field: Any = None,
            *,
            _orig: Any = original,
            _field: str = subject_field,
            _admin: Any = model_admin,
        ) -> Any:
            obj = _orig(request, object_id, from_field)
            action = _action(request)
            # The admin fetches the object before it checks permissions: log only what is really shown.
            allowed = (
                _admin.has_delete_permission(request, obj)
                if action == AccessLog.Action.DELETE
                else _admin.has_view_or_change_permission(request, obj)
            )
            if obj is not None and request.user.is_authenticated and allowed:
                services.access_log_record(
                    staff=request.user,
                    action=action,
                    obj=obj,
                    subject_id=_subject_id(obj, _field),
                )
            return obj

        model_admin.get_object = get_object  # type: ignore[method-assign]
        model_admin._access_logged = True  # type: ignore[attr-defined]
        audited.append(label)
    return audited
