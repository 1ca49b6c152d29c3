"""Photos and files on cases: type and size checked from the content, thumbnails made for images.

The name a client sends proves nothing: an image is opened and verified with Pillow, a document
is recognised by its first bytes. Files that are neither are refused before anything is written.
"""

from __future__ import annotations

import io
import logging
import secrets
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from gridgov.core.errors import ApplicationError

logger = logging.getLogger("gridgov.cases")

IMAGE_FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}
# Documents recognised by their first bytes.
DOCUMENT_MAGIC = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"PK\x03\x04", "application/zip", None),  # .docx / .xlsx: the extension decides below
)
OFFICE_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
THUMBNAIL_SIZE = (320, 320)
MAX_PIXELS = 50_000_000


@dataclass
class CheckedUpload:
    """An upload whose content has been checked; `data` holds its bytes."""

    name: str
    content_type: str
    data: bytes
    extension: str


def _refuse(message: Any, code: str = "invalid_file") -> ApplicationError:
    return ApplicationError(code, message, fields={"files": [str(message)]})


def check_upload(upload: Any) -> CheckedUpload:
    """The upload's bytes and real type, or ApplicationError (too big, empty, not what it claims to be)."""
    if isinstance(upload, CheckedUpload):
        return upload
    name = PurePath(str(getattr(upload, "name", "") or "file")).name[:150]
    limit = settings.GRIDGOV_CASE_FILE_MAX_BYTES
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise _refuse(
            _("%(name)s is too large (%(size).1f MB; at most %(limit).0f MB).")
            % {"name": name, "size": size / 1048576, "limit": limit / 1048576},
            "file_too_large",
        )
    data = upload.read(limit + 1) if hasattr(upload, "read") else bytes(upload)
    if len(data) > limit:
        raise _refuse(
            _("%(name)s is too large (at most %(limit).0f MB).") % {"name": name, "limit": limit / 1048576},
            "file_too_large",
        )
    if not data:
        raise _refuse(_("%(name)s is empty.") % {"name": name})
    suffix = PurePath(name).suffix.lower()
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind = image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        kind = None
    if kind in IMAGE_FORMATS:
        content_type, extension = IMAGE_FORMATS[kind]
        return CheckedUpload(name=name, content_type=content_type, data=data, extension=extension)
    for magic, content_type, extension in DOCUMENT_MAGIC:
        if data.startswith(magic):
            if extension is None:
                if suffix not in OFFICE_TYPES:
                    break
                content_type, extension = OFFICE_TYPES[suffix], suffix
            return CheckedUpload(name=name, content_type=content_type, data=data, extension=extension)
    logger.warning("upload refused: %s is not an accepted image or document", name)
    raise _refuse(
        _("%(name)s is not a photo (JPEG, PNG, WebP) or a document (PDF, Word, Excel).") % {"name": name},
        "unsupported_file",
    )


def thumbnail_bytes(data: bytes) -> bytes:
    """A JPEG thumbnail of an image upload."""
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGB")
        image.thumbnail(THUMBNAIL_SIZE)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=80)
        return out.getvalue()


def store_upload(*, case, event, checked: CheckedUpload, actor) -> Any:
    """Save a checked upload (and its thumbnail) on the case; called inside the step's transaction."""
    from gridgov.cases.models import CaseAttachment

    stem = secrets.token_hex(8)
    attachment = CaseAttachment(
        case=case,
        event=event,
        name=checked.name,
        content_type=checked.content_type,
        size=len(checked.data),
        uploaded_by=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
    )
    attachment.file.save(f"{stem}{checked.extension}", ContentFile(checked.data), save=False)
    if checked.content_type.startswith("image/"):
        attachment.thumbnail.save(f"{stem}.thumb.jpg", ContentFile(thumbnail_bytes(checked.data)), save=False)
    attachment.save()
    return attachment
