"""Photos of fieldwork (visits, activities): content-checked like case files, stored with a thumbnail."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from django.core.files.base import ContentFile
from django.utils.translation import gettext as _

from gridgov.cases.attachments import CheckedUpload, check_upload, thumbnail_bytes
from gridgov.core.errors import ApplicationError
from gridgov.fieldwork.models import FieldPhoto

MAX_PHOTOS = 9


def check_photos(files: Sequence[Any], *, field: str = "photos") -> list[CheckedUpload]:
    """Every upload checked before anything is written; only images are photos."""
    if len(files) > MAX_PHOTOS:
        message = _("At most %(n)d photos.") % {"n": MAX_PHOTOS}
        raise ApplicationError("too_many_files", message, fields={field: [message]})
    checked = [check_upload(upload) for upload in files]
    for upload in checked:
        if not upload.content_type.startswith("image/"):
            message = _("%(name)s is not a photo (JPEG, PNG, WebP).") % {"name": upload.name}
            raise ApplicationError("unsupported_file", message, fields={field: [message]})
    return checked


def store_photo(*, checked: CheckedUpload, area_code: str, actor: Any, **owner: Any) -> FieldPhoto:
    """Save a checked photo and its thumbnail (`owner`: visit= or activity=), inside the writer's transaction."""
    stem = secrets.token_hex(8)
    photo = FieldPhoto(
        name=checked.name,
        content_type=checked.content_type,
        size=len(checked.data),
        area_code=area_code,
        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
        **owner,
    )
    photo.file.save(f"{stem}{checked.extension}", ContentFile(checked.data), save=False)
    photo.thumbnail.save(f"{stem}.thumb.jpg", ContentFile(thumbnail_bytes(checked.data)), save=False)
    photo.save()
    return photo
