"""`gridgov rotate_keys`: re-seal every encrypted value and sealed secret with the current key and cipher."""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from dataclasses import dataclass, field

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.db import connection, models, transaction

from gridgov.core import audit, crypto
from gridgov.core.privacy import EncryptedField, SecretField

HELP = """\
Re-seal every encrypted column with the current key and cipher: personal data (ID and phone
numbers, EncryptedField columns) and sealed secrets (signing secrets, notification endpoints and
robot URLs, SecretField columns).

Rotating the encryption key:
  1. Prepend a new key to FIELD_ENCRYPTION_KEY, keeping the old one after it:
       FIELD_ENCRYPTION_KEY="k2:<base64 of 32 random bytes>,k1:<the old key's base64>"
     (a key given without an id is called k1). New values are sealed with the first key;
     values sealed with the others stay readable.
  2. Restart every web and worker process, so that all of them seal with the new key.
  3. Run `gridgov rotate_keys` (try --dry-run first). It re-seals, batch by batch, every value
     not sealed with the current key and cipher, and prints the counts per model field.
  4. Remove the old key from FIELD_ENCRYPTION_KEY once a run reports nothing left to re-seal
     and nothing unreadable (a dry run says so without writing), then restart again.

Switching the cipher works the same way: set GRIDGOV_FIELD_CIPHER=sm4-gcm (商用密码
deployments), restart, run rotate_keys; values are re-sealed with SM4-GCM.

The blind-index columns (*_hash, keyed by FIELD_HASH_KEY) do not change, so exact search keeps
working throughout. The command may run while the site is up: a value changed by a request
between the read and the write is left alone (it was sealed with the current key anyway), and
a second run changes nothing. Each run (not a dry run) writes one privacy.rotate_keys audit
event with the counts. A value that no configured key opens is counted as unreadable, never
changed, and makes the command fail: do not drop a key while any remain. An unreadable secret
can also be replaced: rotate the webhook's or intake channel's secret, or have the user enter
their notification address again.
"""


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keep the numbered procedure of the help text as written."""


@dataclass
class FieldCount:
    """What one run found in one encrypted column."""

    scanned: int = 0
    current: int = 0
    resealed: int = 0
    unreadable: int = 0
    unreadable_ids: list = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "scanned": self.scanned,
            "current": self.current,
            "resealed": self.resealed,
            "unreadable": self.unreadable,
        }


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedField | SecretField]]:
    """Every EncryptedField and SecretField of every installed model, each table once (no proxies, no
    inherited copies)."""
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for model_field in model._meta.local_concrete_fields:
            if isinstance(model_field, EncryptedField | SecretField):
                found.append((model, model_field))
    return sorted(found, key=lambda item: (item[0]._meta.label_lower, item[1].attname))


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs["formatter_class"] = _HelpFormatter
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=2000, help="Rows per transaction (default 2000).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be re-sealed; write nothing, audit nothing."
        )

    def handle(self, *args, batch: int, dry_run: bool, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        ring = crypto.keyring()  # ImproperlyConfigured now rather than halfway through
        self.stdout.write(
            f"current key {ring.current}, cipher {settings.GRIDGOV_FIELD_CIPHER}" + (" (dry run)" if dry_run else "")
        )
        counts: dict[str, FieldCount] = {}
        for model, model_field in encrypted_fields():
            label = f"{model._meta.label_lower}.{model_field.attname}"
            counts[label] = self._rotate(model, model_field, label, batch=batch, dry_run=dry_run)

        verb = "to re-seal" if dry_run else "re-sealed"
        for label, count in counts.items():
            line = (
                f"{label}: {count.scanned} values, {count.resealed} {verb}, "
                f"{count.current} already current, {count.unreadable} unreadable"
            )
            if count.unreadable:
                line += " (ids " + ", ".join(str(pk) for pk in count.unreadable_ids) + ")"
            self.stdout.write(line)
        left = sum(c.resealed for c in counts.values()) if dry_run else 0
        unreadable = sum(c.unreadable for c in counts.values())
        if not dry_run:
            audit.record(
                actor=None,
                event="privacy.rotate_keys",
                result="failure" if unreadable else "success",
                data={
                    "key": ring.current,
                    "cipher": settings.GRIDGOV_FIELD_CIPHER,
                    "fields": {label: count.as_dict() for label, count in counts.items()},
                },
            )
        if unreadable:
            raise CommandError(
                f"{unreadable} values open with no configured key: keep every old key until they are repaired"
            )
        if left:
            self.stdout.write(f"{left} values are not sealed with the current key and cipher yet")
        else:
            self.stdout.write(self.style.SUCCESS("nothing left to re-seal"))

    def _rotate(
        self,
        model: type[models.Model],
        model_field: EncryptedField | SecretField,
        label: str,
        *,
        batch: int,
        dry_run: bool,
    ) -> FieldCount:
        """Walk one column in primary-key order, one transaction per batch."""
        quote = connection.ops.quote_name
        table, column, pk = quote(model._meta.db_table), quote(model_field.column), quote(model._meta.pk.column)
        # Raw SQL: the field's from_db_value would decrypt, and the raw value says which key sealed it.
        # Identifiers come quoted from the model's own metadata; values are parameters.
        select = f"SELECT {pk}, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} <> ''"  # noqa: S608
        # Compare-and-set: a value a request changed since it was read is left as the request wrote it.
        update = f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s"  # noqa: S608
        verb = "to re-seal" if dry_run else "re-sealed"
        count = FieldCount()
        last = None
        while True:
            # A dry run only reads: no transaction, so no write lock on SQLite.
            with nullcontext() if dry_run else transaction.atomic(), connection.cursor() as cursor:
                if last is None:
                    cursor.execute(f"{select} ORDER BY {pk} LIMIT %s", [batch])
                else:
                    cursor.execute(f"{select} AND {pk} > %s ORDER BY {pk} LIMIT %s", [last, batch])
                rows = cursor.fetchall()
                if not rows:
                    break
                last = rows[-1][0]
                changes = []
                for row_pk, stored in rows:
                    count.scanned += 1
                    try:
                        if crypto.is_current(stored):
                            count.current += 1
                            continue
                        plain = crypto.decrypt(stored, context=model_field.context)
                    except crypto.DecryptionError:
                        count.unreadable += 1
                        if len(count.unreadable_ids) < 20:
                            count.unreadable_ids.append(row_pk)
                        continue
                    changes.append((crypto.encrypt(plain, context=model_field.context), row_pk, stored))
                if dry_run:
                    count.resealed += len(changes)
                elif changes:
                    cursor.executemany(update, changes)
                    count.resealed += max(cursor.rowcount, 0)
            self.stdout.write(f"  {label}: {count.scanned} scanned, {count.resealed} {verb}")
        return count
