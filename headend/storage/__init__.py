"""Storage: the durable spool, the stores (TimescaleDB, embedded SQLite), the spool writer, migrations, and the
billing contract they implement (docs/schema.md).

Readings are acknowledged once they are in the :class:`Spool` (on disk, fsynced); the :class:`SpoolWriter`
moves them in batches to the :class:`Store` chosen by :func:`open_store`. Events, link history and the meter
archive are written to the store directly (:mod:`headend.storage.records`). :func:`maintain_periodically` runs
the upkeep (aggregate refresh, retention), :func:`collect_status` is ``headend db status``, and
:func:`roles_script` the database roles.
"""

from headend.storage.base import Edition, MaintenanceResult, Store, WriteResult, open_store
from headend.storage.errors import MigrationError, SpoolFull, StorageError
from headend.storage.maintenance import maintain_periodically
from headend.storage.roles import roles_script
from headend.storage.spool import Spool
from headend.storage.status import collect_status
from headend.storage.writer import SpoolWriter

__all__ = [
    "Edition",
    "MaintenanceResult",
    "MigrationError",
    "Spool",
    "SpoolFull",
    "SpoolWriter",
    "StorageError",
    "Store",
    "WriteResult",
    "collect_status",
    "maintain_periodically",
    "open_store",
    "roles_script",
]
