"""``python -m kubeapi [flags]``: the same as ``twistd --nodaemon --pidfile= kubeapi [flags]``,
run with glibc's allocator (``PYTHONMALLOC=malloc``) as the systemd unit runs it, so memory
freed after bursts of connections goes back to the system (see docs/hardening.md)."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if "PYTHONMALLOC" not in os.environ:  # the allocator is chosen at start-up: start again with it
        env = dict(os.environ, PYTHONMALLOC="malloc")
        os.execve(sys.executable, [sys.executable, "-m", "kubeapi", *args], env)
    from twisted.scripts.twistd import run

    sys.argv = ["twistd", "--nodaemon", "--pidfile=", "kubeapi", *args]
    run()


if __name__ == "__main__":
    main()
