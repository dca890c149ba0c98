"""``--workers N``: N kubeapi processes serving one address, for more than one core.

CPython runs one request at a time per process, so one kubeapi uses one core.  The way
users grow kube-apiserver is several servers on one etcd behind one address; ``--workers``
does that on one machine.  The process the user started is worker 0: it writes the
certificates, binds the ports, then starts workers 1..N-1 with the same flags and the ports
it bound.  Every worker is a whole API server on the same etcd (its own watch cache,
admission, controllers), and every listening socket has ``SO_REUSEPORT``, so the kernel
spreads new connections over the workers.

What is shared stays correct because it lives in etcd: resourceVersions, ClusterIP and
NodePort allocations (compare-and-swap on their range objects), the built-in objects the
bootstrap controllers keep (their writes are idempotent).  Worker i writes its audit log
to its own file (`own_file`), so no two processes rotate one file.  All workers advertise one
address, so they share one master lease; only worker 0 removes it, when the whole server
stops.  A worker that exits on its own is started again after a pause; each worker ends
when worker 0 does (it watches a pipe from worker 0 for end-of-file).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone
from twisted.internet.interfaces import IReadDescriptor
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

log = Logger()

WORKER_ENV = "KUBEAPI_WORKER"  # set to i in the environment of worker i (i >= 1)
RESTART_DELAY = 1.0  # a worker that died is started again after this, doubling up to MAX
MAX_RESTART_DELAY = 30.0
STOP_GRACE = 5.0  # on top of the worker's own shutdown window, before SIGKILL
BACKLOG = 511  # Go's net.Listen uses the kernel's somaxconn; 511 is a common value


def worker_index() -> int:
    """0 for the process the user started, i for the i-th worker it spawned."""
    try:
        return max(0, int(os.environ.get(WORKER_ENV, "0")))
    except ValueError:
        return 0


def own_file(path: str, index: int) -> str:
    """Worker ``index``'s copy of a file every worker would otherwise write and rotate
    (the audit log): ``audit.log`` → ``audit-worker1.log``."""
    root, ext = os.path.splitext(path)
    return f"{root}-worker{index}{ext}"


def listen_reuseport(reactor: Any, address: str, port: int, factory: Any) -> Any:
    """Bind ``address:port`` with SO_REUSEPORT and hand the socket to the reactor.

    The first worker binds (port 0 picks one); the others bind the same port and the kernel
    balances connections across the sockets.  Raises OSError as ``bind`` does."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((address, port))
        sock.listen(BACKLOG)
        sock.setblocking(False)
        return reactor.adoptStreamPort(sock.fileno(), family, factory)
    finally:
        sock.close()  # the reactor holds its own duplicate of the descriptor


class _Worker(ProcessProtocol):
    def __init__(self, pool: WorkerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.ended: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        transport: Any = self.transport
        log.info("workers: worker {i} started (pid {pid})", i=self.index, pid=transport.pid)

    def processEnded(self, reason: Failure) -> None:
        self.ended.callback(None)
        self.pool.ended(self, reason)


class WorkerPool(Service):
    """Worker 0's children: started once worker 0's ports are bound, restarted when they
    die unexpectedly, stopped (SIGTERM, then SIGKILL after ``stop_timeout``) with it."""

    name = "workers"

    def __init__(self, reactor: Any, argv: list[str], count: int, ports: dict[str, int],
                 stop_timeout: float) -> None:
        self.reactor = reactor
        self.argv = argv
        self.count = count
        self.ports = ports
        self.stop_timeout = stop_timeout + STOP_GRACE
        self.workers: dict[int, _Worker] = {}
        self.delays: dict[int, float] = {}
        self._pending: dict[int, Any] = {}

    def command(self) -> list[str]:
        """This process's flags with the ports it bound (``--secure-port=0`` picked one)."""
        pinned = [f"--{name}={port}" for name, port in sorted(self.ports.items())]
        return [sys.executable, "-m", "kubeapi", *self.argv, *pinned]

    def startService(self) -> None:
        super().startService()
        for i in range(1, self.count):
            self._spawn(i)

    def _spawn(self, index: int) -> None:
        self._pending.pop(index, None)
        if not self.running:
            return
        env = dict(os.environ)
        env[WORKER_ENV] = str(index)
        env.pop("NOTIFY_SOCKET", None)  # systemd hears READY/STOPPING from worker 0 only
        env.pop("LISTEN_FDS", None)
        worker = _Worker(self, index)
        self.workers[index] = worker
        argv = self.command()
        self.reactor.spawnProcess(worker, argv[0], argv, env=env, childFDs={0: "w", 1: 1, 2: 2})

    def ended(self, worker: _Worker, reason: Failure) -> None:
        if self.workers.get(worker.index) is worker:
            del self.workers[worker.index]
        if not self.running:
            return
        delay = self.delays.get(worker.index, RESTART_DELAY)
        how = _how_it_ended(reason)
        log.warn("workers: worker {i} {how}; starting it again in {delay:.0f} s", i=worker.index,
                 how=how, delay=delay)
        self.delays[worker.index] = min(delay * 2, MAX_RESTART_DELAY)
        self._pending[worker.index] = self.reactor.callLater(delay, self._spawn, worker.index)

    def stopService(self) -> Deferred[None]:
        """SIGTERM every worker (each shuts down as kube-apiserver does on SIGTERM); the
        Deferred fires when all have exited."""
        super().stopService()
        for call in self._pending.values():
            if call.active():
                call.cancel()
        self._pending.clear()
        waiting = list(self.workers.values())
        for w in waiting:
            _signal(w, signal.SIGTERM)

        def kill_all() -> None:
            for w in waiting:
                _signal(w, signal.SIGKILL)
        kill = self.reactor.callLater(self.stop_timeout, kill_all)

        async def all_ended() -> None:
            for w in waiting:
                await w.ended
            if kill.active():
                kill.cancel()

        return Deferred.fromCoroutine(all_ended())


def _how_it_ended(reason: Failure) -> str:
    if reason.check(ProcessDone):
        return "exited"
    err: Any = reason.value
    if getattr(err, "signal", None):
        return f"was killed by signal {err.signal}"
    return f"exited with status {getattr(err, 'exitCode', '?')}"


def _signal(worker: _Worker, sig: int) -> None:
    transport: Any = worker.transport
    try:
        transport.signalProcess(sig)
    except Exception:  # already gone
        pass


@implementer(IReadDescriptor)
class ParentWatch:
    """In a worker: fd 0 is a pipe from worker 0; end-of-file means worker 0 is gone (even
    killed with SIGKILL), and this worker shuts down too."""

    def __init__(self, reactor: Any, on_gone: Any, fd: int = 0) -> None:
        self.reactor = reactor
        self.on_gone = on_gone
        self.fd = fd
        self.gone = False
        os.set_blocking(fd, False)

    def start(self) -> None:
        self.reactor.addReader(self)

    def stop(self) -> None:
        self.reactor.removeReader(self)

    def fileno(self) -> int:
        return self.fd

    def logPrefix(self) -> str:
        return "worker-0-pipe"

    def doRead(self) -> Any:
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return None
        except OSError:
            data = b""
        if not data:
            self._gone()
        return None

    def connectionLost(self, reason: Failure) -> None:
        """The reactor's word for a hang-up without data (the write end closed)."""
        self._gone()

    def _gone(self) -> None:
        if self.gone:
            return
        self.gone = True
        self.stop()
        log.warn("workers: worker 0 is gone; stopping")
        self.on_gone()
