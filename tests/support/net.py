"""Local ports for servers that tests start (always on 127.0.0.1)."""

from __future__ import annotations

import random
import socket

_given: set[int] = set()


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Chosen below the kernel's ephemeral range: a port the OS hands out for bind(0) can be
    taken by any outgoing connection (kubectl's, a client's) before the server we start
    binds it, which made parallel runs fail now and then with "address already in use".
    Each port is handed out once per process."""
    high = max(_ephemeral_low(), 12000)
    for _ in range(200):
        port = random.randrange(10000, high)
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    with socket.socket() as s:  # everything below the range is busy: fall back to the OS
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
