"""``python -m headend`` and the ``headend`` console script.

Kept free of heavy imports: for ``headend run`` the stop signals are recorded (see :mod:`headend.signals`)
before the daemon's modules load, so a SIGTERM during a slow start still ends in an orderly exit 0.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["run"]:
        from headend.signals import install_early

        install_early()
    from headend.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
