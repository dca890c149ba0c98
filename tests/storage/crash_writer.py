"""Helper process for the crash test: writes keys forever, printing each acknowledged one.

Usage: python tests/storage/crash_writer.py <db-path>
Prints ``ACK <key> <revision>`` after each create() resolved (flushed at once), with
several writes in flight so group commit is exercised.  The test kills it with SIGKILL.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from twisted.internet import defer, task  # noqa: E402

from kubeapi.storage.embedded import SQLiteStorage  # noqa: E402

IN_FLIGHT = 8


async def writer(storage: SQLiteStorage, lane: int) -> None:
    i = 0
    while True:
        key = f"/crash/{lane}/{i:08d}"
        kv = await storage.create(key, (key * 20).encode())
        sys.stdout.write(f"ACK {key} {kv.mod_revision}\n")
        sys.stdout.flush()
        i += 1


async def main(path: str) -> None:
    storage = SQLiteStorage(path)
    await storage.open()
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    await defer.gatherResults([defer.ensureDeferred(writer(storage, n)) for n in range(IN_FLIGHT)])


if __name__ == "__main__":
    task.react(lambda _r: defer.ensureDeferred(main(sys.argv[1])))
