"""Exceptions raised by :mod:`headend.storage`.

::

    StorageError(HeadendError)       the spool or the store failed
     ├─ SpoolFull                    the spool refused an append: it would exceed its size limit
     └─ MigrationError               the schema cannot be brought to this version of headend

``StorageError`` is the storage branch of the :mod:`headend.errors` tree. Errors of the database drivers
(``psycopg.Error``, ``sqlite3.Error``) cross unchanged: the spool writer retries them, and the CLI prints them.
"""

from __future__ import annotations

from headend.errors import HeadendError


class StorageError(HeadendError):
    """Root of the storage errors."""


class SpoolFull(StorageError):
    """An append to the spool was refused because the spool would exceed ``max_bytes``.

    Nothing of the refused batch was stored; everything acknowledged before is intact.
    """

    def __init__(self, *, size_bytes: int, max_bytes: int, rejected: int) -> None:
        super().__init__(
            f"spool full: {rejected} readings refused, the spool would hold {size_bytes} bytes (limit {max_bytes})"
        )
        self.size_bytes = size_bytes
        self.max_bytes = max_bytes
        self.rejected = rejected


class MigrationError(StorageError):
    """The schema cannot be migrated: unknown newer version, or broken migration files."""
