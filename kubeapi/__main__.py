"""``python -m kubeapi [flags]``: the same as ``twistd --nodaemon --pidfile= kubeapi [flags]``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from twisted.scripts.twistd import run

    args = sys.argv[1:] if argv is None else argv
    sys.argv = ["twistd", "--nodaemon", "--pidfile=", "kubeapi", *args]
    run()


if __name__ == "__main__":
    main()
