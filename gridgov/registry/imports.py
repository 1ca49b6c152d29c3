"""Import jobs: an uploaded workbook checked and imported by the worker, with its progress.

The page saves the upload under MEDIA_ROOT/imports/ and creates an `ImportJob`
(`import_job_create`); small files are imported at once, larger ones by the worker task
(`registry.tasks.import_job_task`, queued after commit), which calls `import_job_run`. That
calls `excel.import_file` with a progress callback and records the outcome. The upload holds
full ID and phone numbers, so it is deleted as soon as the job finishes, whatever the outcome.

Jobs are private: a user sees the jobs they started (superusers see all).
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gridgov.core.errors import ApplicationError
from gridgov.core.scope import scope_for, scoped, scoped_get
from gridgov.registry import excel
from gridgov.registry.models import ImportJob
from gridgov.registry.services import WRITE_ROLES

logger = logging.getLogger("gridgov.registry.imports")

INLINE_ROWS = 2_000  # files with at most this many data rows are imported inside the request
INLINE_BYTES = 1024 * 1024  # larger files go to the worker without counting their rows
KEPT_ERRORS = 10_000  # errors a job keeps for its page and report (the count is kept in full)


# --- permissions and reads ---------------------------------------------------------------------


def may_import(user: Any) -> bool:
    """Superusers, and users who keep the registry of some area (the rows decide which grids)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.posts.filter(active=True, role__in=WRITE_ROLES, area__isnull=False).exists()


def import_job_list(*, user: Any) -> QuerySet[ImportJob]:
    """The jobs `user` started (every job for superusers), newest first."""
    qs = ImportJob.objects.all()
    if not getattr(user, "is_superuser", False):
        qs = qs.filter(actor_id=getattr(user, "pk", None))
    return scoped(qs, user)


def import_job_get(*, user: Any, pk: Any) -> ImportJob:
    """One job of `user`; NotFound for someone else's, as for a missing one."""
    return scoped_get(import_job_list(user=user), user, pk=pk)


# --- writes -------------------------------------------------------------------------------------


def _top_area_code(user: Any) -> str:
    codes = scope_for(user).area_codes
    return min(codes, key=len) if codes else ""


def _estimated_rows(path: str, size: int) -> int | None:
    """Data rows of a small file (from the sheet's dimension), or None when it is large or unreadable."""
    if size > INLINE_BYTES:
        return None
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=False)
        try:
            rows = book.worksheets[0].max_row if book.worksheets else None
        finally:
            book.close()
    except Exception:  # import_file reports an unreadable file properly; here it only decides where to run
        return None
    return None if rows is None else max(0, rows - 1)


def import_job_create(*, actor: Any, kind: str, upload: Any, dry_run: bool = False) -> ImportJob:
    """Save an upload and start its import: at once for a small file, otherwise in the worker.

    upload: a Django UploadedFile. Refuses (ApplicationError) a kind that is not importable, a
    file over GRIDGOV_IMPORT_MAX_BYTES and a file that is not an .xlsx workbook.
    """
    from django.core.exceptions import PermissionDenied as DjangoPermissionDenied

    if not may_import(actor):
        raise DjangoPermissionDenied
    if kind not in excel.IMPORT_KINDS:
        raise ApplicationError("import_unknown_kind", _("Unknown kind of records: %(kind)s") % {"kind": kind})
    excel.check_upload(upload, size=upload.size)
    job = ImportJob(
        kind=kind,
        file_name=Path(upload.name or "upload.xlsx").name[:200],
        actor=actor,
        area_code=_top_area_code(actor),
        dry_run=dry_run,
    )
    # A random name on disk: the user's file name may itself carry personal data.
    job.file.save(f"{uuid.uuid4().hex}.xlsx", upload, save=False)
    language = translation.get_language() or settings.LANGUAGE_CODE
    rows = _estimated_rows(job.file.path, upload.size)
    with transaction.atomic():
        job.save()
        if rows is None or rows > INLINE_ROWS:
            from gridgov.registry.tasks import import_job_task

            transaction.on_commit(lambda: import_job_task(job.pk, language))
    if rows is not None and rows <= INLINE_ROWS:
        import_job_run(job_id=job.pk, language=language)
    job.refresh_from_db()
    return job


def import_job_run(*, job_id: int, language: str | None = None) -> ImportJob | None:
    """Run a queued job once (a repeated or concurrent call finds it claimed and does nothing)."""
    now = timezone.now()
    if not ImportJob.objects.filter(pk=job_id, state=ImportJob.State.QUEUED).update(
        state=ImportJob.State.RUNNING, updated_at=now
    ):
        return None
    job = ImportJob.objects.select_related("actor").get(pk=job_id)

    def progress(done: int, total: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(processed=done, total=total, updated_at=timezone.now())

    outcome: dict[str, Any] = {}
    with translation.override(language or settings.LANGUAGE_CODE):
        try:
            result = excel.import_file(
                job.kind,
                job.file.path,
                actor=job.actor,
                dry_run=job.dry_run,
                progress=progress,
                file_name=job.file_name,
            )
        except ApplicationError as exc:
            outcome = {"state": ImportJob.State.FAILED, "message": exc.message[:500]}
        except Exception:
            logger.exception("import job %s stopped on an unexpected error", job_id)
            outcome = {
                "state": ImportJob.State.FAILED,
                "message": _("The import stopped on an unexpected error; nothing was imported."),
            }
        else:
            outcome = {
                "state": ImportJob.State.SUCCEEDED if result.ok else ImportJob.State.FAILED,
                "total": result.total_rows,
                "processed": result.total_rows,
                "created": result.created,
                "error_count": len(result.errors),
                "errors": [error.as_dict() for error in result.errors[:KEPT_ERRORS]],
            }
        finally:
            _delete_upload(job)
    ImportJob.objects.filter(pk=job_id).update(
        **outcome, file="", finished_at=timezone.now(), updated_at=timezone.now()
    )
    job.refresh_from_db()
    return job


def _delete_upload(job: ImportJob) -> None:
    if not job.file:
        return
    try:
        job.file.storage.delete(job.file.name)
    except OSError:
        logger.warning("import job %s: the upload could not be deleted", job.pk)
