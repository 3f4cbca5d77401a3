"""Sending the product's emails: plain text and HTML from one pair of templates, with the subject prefix."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def send_templated(*, to: str, subject: str, template: str, context: dict[str, Any]) -> None:
    """Render ``<template>.txt`` and ``<template>.html`` with ``context`` and send them to ``to``."""
    text = render_to_string(f"{template}.txt", context)
    html = render_to_string(f"{template}.html", context)
    message = EmailMultiAlternatives(subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    message.send()
