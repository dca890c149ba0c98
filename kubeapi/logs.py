"""Log output an operator of kube-apiserver expects: klog-style text lines by default,
one JSON object a line with ``--logging-format=json``, and ``--v`` verbosity.

Events come from twisted.logger (our modules and twistd) and from stdlib ``logging``
(bridged here).  An event may carry ``log_v`` (klog's V level); it is shown only when
``--v`` is at least that.  twisted's own chatter ("Starting factory ...") counts as V(2).
A failure is shown as one line (its message) unless ``--v`` is 4 or more, when the
traceback follows — the rule for every failed start as well.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import IO, Any

import orjson
from twisted.logger import ILogObserver, LogLevel, formatEvent
from twisted.logger import Logger as _TwistedLogger
from zope.interface import implementer

LOGGING_FORMATS = ("text", "json")
TRACEBACK_V = 4  # from this --v on, failures carry their traceback
# The process's --v, once its observer is made: lets hot paths skip building lines nobody shows.
current_verbosity = 0

_SEVERITY = {LogLevel.debug: "I", LogLevel.info: "I", LogLevel.warn: "W", LogLevel.error: "E",
             LogLevel.critical: "F"}


def _event_v(event: dict[str, Any]) -> int:
    v = event.get("log_v")
    if isinstance(v, int):
        return v
    level = event.get("log_level")
    if level is LogLevel.debug:
        return 4
    ns = str(event.get("log_namespace") or "")
    if level is LogLevel.info and not ns.startswith(("kubeapi", "twisted.scripts")):
        return 2  # twisted's own info lines (factories, reactor, twistd banner)
    return 0


def _kv_text(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return orjson.dumps(str(value)).decode()


@implementer(ILogObserver)
class KlogObserver:
    """Writes each event as one line (plus a traceback at high verbosity)."""

    def __init__(self, out: IO[str], verbosity: int = 0, fmt: str = "text") -> None:
        self.out = out
        self.verbosity = verbosity
        self.fmt = fmt
        self.pid = os.getpid()
        from twisted.python.compat import ioType

        self.binary = ioType(out) is not str

    def __call__(self, event: dict[str, Any]) -> None:
        v = _event_v(event)
        if v > self.verbosity:
            return
        try:
            line = self.format(event, v)
        except Exception:  # a bad format string must not lose the event entirely
            line = repr(event.get("log_format"))
        try:
            data = line + "\n"
            self.out.write(data.encode("utf-8") if self.binary else data)  # type: ignore[arg-type]
            self.out.flush()
        except (OSError, ValueError):
            pass

    def format(self, event: dict[str, Any], v: int) -> str:
        level = event.get("log_level", LogLevel.info)
        msg = formatEvent(event) if event.get("log_format") is not None else ""
        failure = event.get("log_failure")
        kvs: dict[str, Any] = dict(event.get("log_kv") or {})
        if failure is not None and _failure_text(failure) not in msg:
            kvs["err"] = _failure_text(failure)
        ts = event.get("log_time") or time.time()
        caller = str(event.get("log_caller") or event.get("log_namespace") or "-")
        if self.fmt == "json":
            obj: dict[str, Any] = {"ts": round(ts * 1000, 3), "caller": caller, "msg": msg}
            if level in (LogLevel.error, LogLevel.critical):
                pass
            else:
                obj["v"] = v
            obj.update({k: (val if isinstance(val, (int, float, bool)) else str(val))
                        for k, val in kvs.items()})
            if failure is not None and self.verbosity >= TRACEBACK_V:
                obj["stacktrace"] = failure.getTraceback()
            return orjson.dumps(obj).decode()
        t = time.localtime(ts)
        micros = int((ts % 1) * 1_000_000)
        head = (f"{_SEVERITY.get(level, 'I')}{t.tm_mon:02d}{t.tm_mday:02d} "
                f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{micros:06d} {self.pid:7d} {caller}] ")
        text = head + msg
        if kvs:
            text += " " + " ".join(f"{k}={_kv_text(val)}" for k, val in kvs.items())
        if failure is not None and self.verbosity >= TRACEBACK_V:
            text += "\n" + failure.getTraceback().rstrip()
        return text


def _failure_text(failure: Any) -> str:
    value = getattr(failure, "value", None)
    text = str(value) if value is not None else ""
    return text or getattr(getattr(failure, "type", None), "__name__", "error")


class _BridgeHandler(logging.Handler):
    """Stdlib ``logging`` records into twisted.logger, with klog's V levels for DEBUG."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except Exception:
            msg = str(record.msg)
        if record.levelno >= logging.ERROR:
            level = LogLevel.error
        elif record.levelno >= logging.WARNING:
            level = LogLevel.warn
        else:
            level = LogLevel.info
        event: dict[str, Any] = {"log_v": int(getattr(record, "v", 0 if record.levelno >= logging.INFO else 4)),
                                 "log_caller": f"{record.module}.py:{record.lineno}",
                                 "log_kv": getattr(record, "kv", None) or {}}
        if record.exc_info and record.exc_info[1] is not None:
            from twisted.python.failure import Failure

            event["log_failure"] = Failure(record.exc_info[1], record.exc_info[0], record.exc_info[2])
        _TwistedLogger(namespace=record.name).emit(level, "{msg}", msg=msg, **event)


_bridge: _BridgeHandler | None = None


def bridge_stdlib_logging(verbosity: int = 0) -> None:
    """Route the ``logging`` module's records to the twisted log (once per process).
    DEBUG records (V(4)) are only built at all from --v=4."""
    global _bridge
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbosity >= TRACEBACK_V else logging.INFO)
    if _bridge is not None:
        return
    _bridge = _BridgeHandler()
    root.addHandler(_bridge)


def observer_for(twistd_options: Any, verbosity: int, fmt: str) -> KlogObserver:
    """An observer writing where twistd would (``--logfile``, stdout under ``--nodaemon``)."""
    logfile = None
    nodaemon = True
    if twistd_options is not None:
        try:
            logfile = twistd_options.get("logfile")
            nodaemon = bool(twistd_options.get("nodaemon"))
        except AttributeError:
            pass
    out: IO[str]
    if logfile and logfile != "-":
        from twisted.python.logfile import LogFile

        out = LogFile.fromFullPath(logfile)  # type: ignore[assignment]
    elif logfile == "-" or nodaemon:
        out = sys.stdout
    else:
        from twisted.python.logfile import LogFile

        out = LogFile.fromFullPath("twistd.log")  # type: ignore[assignment]
    global current_verbosity
    current_verbosity = verbosity
    return KlogObserver(out, verbosity, fmt)


def startup_failure_line(err: BaseException) -> str:
    """``kubeapi: failed to start: <cause>`` plus what to check, on one line."""
    from kubeapi.storage.interface import StorageError, UnavailableError

    cause = " ".join(str(err).split()) or type(err).__name__
    hint = ""
    if isinstance(err, UnavailableError) and cause.startswith("etcd"):
        hint = " (check --etcd-servers and that etcd is running and reachable)"
    elif isinstance(err, StorageError):
        hint = " (check --data-dir / --etcd-servers)"
    return f"kubeapi: failed to start: {cause}{hint}"


_exit_status: list[int] = []


def exit_with_status_at_exit(status: int) -> None:
    """twistd always exits 0 after the reactor stops; make the process's status ``status``.

    Registered at failure time, so it runs first among atexit handlers (after twistd's own
    cleanup such as removing the pid file); streams are flushed before the hard exit.
    """
    import atexit

    if _exit_status:
        return
    _exit_status.append(status)

    def _exit() -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        logging.shutdown()
        os._exit(status)

    atexit.register(_exit)
