"""Test hosts: network namespaces joined to this one by veth pairs.

Upstream refuses to proxy to loopback and link-local addresses, so a fake kubelet, pod or
extension server must live at an ordinary address. Each `TestHost` is a network namespace with
one veth pair: the host end gets ``10.<a>.<b>.1/30``, the namespace end ``.2``; a process run with
`TestHost.spawn` listens there. Everything made is torn down by `TestHost.close` (and by the
namespace's deletion if a test dies).

Needs root and iproute2; `skip_reason()` says why when they are missing, so tests skip with
that line.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

_counter = itertools.count(1)


def _ip(*args: str, netns: str | None = None) -> None:
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    subprocess.run(argv, check=True, capture_output=True, timeout=10)


def skip_reason() -> str | None:
    """Why test hosts cannot be made here, or None when they can."""
    if shutil.which("ip") is None:
        return "test hosts need iproute2 (`ip`), which is not installed"
    if os.geteuid() != 0:
        return "test hosts need root to create network namespaces"
    probe = f"kt-probe-{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except (subprocess.SubprocessError, OSError) as e:
        return f"cannot create a network namespace: {e}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10)
    return None


@dataclass
class TestHost:
    """One namespace at `address`, reachable from the root namespace through `gateway`."""

    name: str
    address: str
    gateway: str
    _host_if: str
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def create(cls) -> TestHost:
        n = (os.getpid() % 200) * 256 + next(_counter)
        a, b = 200 + (n >> 14) % 50, (n >> 6) % 256
        c = (n % 64) * 4
        name = f"kt-{os.getpid()}-{n}"
        host_if, ns_if = f"kth{n}"[:15], f"ktn{n}"[:15]
        gateway, address = f"10.{a}.{b}.{c + 1}", f"10.{a}.{b}.{c + 2}"
        _ip("netns", "add", name)
        try:
            _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
            _ip("link", "set", ns_if, "netns", name)
            _ip("addr", "add", f"{gateway}/30", "dev", host_if)
            _ip("link", "set", host_if, "up")
            _ip("addr", "add", f"{address}/30", "dev", ns_if, netns=name)
            _ip("link", "set", ns_if, "up", netns=name)
            _ip("link", "set", "lo", "up", netns=name)
            _ip("route", "add", "default", "via", gateway, netns=name)
        except BaseException:
            subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=10)
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
            raise
        return cls(name, address, gateway, host_if)

    def spawn(self, argv: list[str], **kw: object) -> subprocess.Popen[bytes]:
        """Run `argv` inside the namespace; `close` kills it."""
        proc: subprocess.Popen[bytes] = subprocess.Popen(
            ["ip", "netns", "exec", self.name, *argv], **kw  # type: ignore[call-overload]
        )
        self._procs.append(proc)
        return proc

    def spawn_python(self, module: str, *args: str, **kw: object) -> subprocess.Popen[bytes]:
        """Run ``python -m module args`` inside the namespace with this checkout importable."""
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        return self.spawn([sys.executable, "-m", module, *args], env=env, **kw)

    def close(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        self._procs.clear()
        subprocess.run(["ip", "link", "del", self._host_if], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)
