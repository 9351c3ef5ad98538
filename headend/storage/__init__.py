"""Storage: the durable spool, the stores (TimescaleDB, embedded SQLite), the spool writer, migrations.

Readings are acknowledged once they are in the :class:`Spool` (on disk, fsynced); the :class:`SpoolWriter`
moves them in batches to the :class:`Store` chosen by :func:`open_store`. docs/schema.md is the table contract.
"""

from headend.storage.base import Edition, Store, WriteResult, open_store
from headend.storage.errors import MigrationError, SpoolFull, StorageError
from headend.storage.spool import Spool
from headend.storage.writer import SpoolWriter

__all__ = [
    "Edition",
    "MigrationError",
    "Spool",
    "SpoolFull",
    "SpoolWriter",
    "StorageError",
    "Store",
    "WriteResult",
    "open_store",
]
