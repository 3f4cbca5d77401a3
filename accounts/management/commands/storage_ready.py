"""Make the file storage ready before the web processes start: the bucket exists (object storage), or the
MEDIA_ROOT folder does (local files). Idempotent; compose's web container runs it after migrate."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from mindomo import files


class Command(BaseCommand):
    help = "Create the object-storage bucket (STORAGE_BUCKET) or the MEDIA_ROOT folder when it is missing."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(files.ready())
