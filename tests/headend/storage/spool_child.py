"""Child process of test_spool.py's kill -9 test: appends batches forever, printing the index of each batch
after ``Spool.append`` returned (= acknowledged). The parent SIGKILLs it at a random moment.

Usage: python spool_child.py SPOOL_PATH BATCH_SIZE
"""

from __future__ import annotations

import sys
from pathlib import Path

from headend.storage.spool import Spool
from tests.headend.storage.helpers import batch


def main() -> None:
    path, size = Path(sys.argv[1]), int(sys.argv[2])
    spool = Spool(path)
    index = 0
    while True:
        spool.append(batch(index, size))
        sys.stdout.write(f"{index}\n")
        sys.stdout.flush()
        index += 1


if __name__ == "__main__":
    main()
