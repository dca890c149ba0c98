"""A process's resident memory and CPU time, from /proc: what benches and load tests report."""

from __future__ import annotations

import os
from pathlib import Path


def rss_kib(pid: int) -> int:
    """``pid``'s resident set size (VmRSS) in KiB, 0 once it has gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def rss_mib(pid: int) -> float:
    return rss_kib(pid) / 1024


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
