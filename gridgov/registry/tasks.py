"""Background jobs of the registry: thin wrappers around `registry.imports`."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from gridgov.registry import imports


@db_task()
def import_job_task(job_id: int, language: str | None = None) -> None:
    """Run a spreadsheet import started from the page (queued after the job's row is committed)."""
    imports.import_job_run(job_id=job_id, language=language)
