"""A command run with a pseudo-terminal as its terminal (``kubectl exec -it``): write keys,
read what it prints, wait for its exit, kill it if it outlives the test."""

from __future__ import annotations

import os
import pty
import select
import signal
import time


class PtySession:
    def __init__(self, argv: list[str], home: str) -> None:
        self.seen = b""
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: the command with the pty as its terminal
            os.environ["HOME"] = home
            os.execv(argv[0], argv)

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def read_until(self, want: bytes, timeout: float = 20.0) -> bytes:
        """Everything printed so far, once it holds ``want`` or ``timeout`` has passed."""
        deadline = time.monotonic() + timeout
        while want not in self.seen and time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.5)
            if ready:
                try:
                    self.seen += os.read(self.fd, 4096)
                except OSError:
                    break
        return self.seen

    def wait(self, timeout: float = 20.0) -> int | None:
        """The wait status once the command has exited (reading its output meanwhile), or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                return status
            self.read_until(b"\x00never", 0.2)
        return None

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)
