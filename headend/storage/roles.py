"""The database roles of the billing contract: ``headend_writer`` (owns and writes) and ``headend_billing``
(reads only), created by the idempotent script ``sql/roles.sql`` (docs/schema.md "Roles").

Roles are cluster-wide and creating them needs CREATEROLE, which the daemon's own role should not have: the
script is run by a DBA (``psql -f``, or :func:`apply_roles` with a superuser DSN), not by ``headend db migrate``.
"""

from __future__ import annotations

from importlib import resources

import psycopg


def roles_script() -> str:
    """The text of ``sql/roles.sql`` (what ``headend db roles`` prints)."""
    return resources.files(__package__).joinpath("sql", "roles.sql").read_text(encoding="utf-8")


async def apply_roles(dsn: str) -> None:
    """Run :func:`roles_script` in the database of ``dsn`` (a superuser, or a CREATEROLE role owning the
    headend objects), in one transaction."""
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute(roles_script().encode())
        await conn.commit()
