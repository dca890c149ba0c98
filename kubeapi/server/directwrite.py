"""Writing a small frame to a connection now, not on the reactor's next writable pass.

Twisted's transports buffer every ``write`` and register the socket for writability; the
next poll sends and unregisters it.  For one watch event fanned out to thousands of
streams that is two ``epoll_ctl`` calls and a poll wake-up per stream per event, and the
profile of a 10,000-watcher fan-out showed them costing more than the ``send`` itself.
When nothing is buffered on the TCP connection the bytes can go to the socket at once (as
asyncio's transports do); whatever the kernel does not take (a full socket buffer, an
error) is handed to Twisted's own ``write``, which queues it behind nothing, pauses the
producer when it should, and notices a lost connection the usual way.

Over TLS the record is sealed with the connection's OpenSSL object and its ciphertext
goes the same way, while the TLS layer has nothing queued of its own; anything unusual
(handshake not done, TLS-level buffering, an OpenSSL error) takes ``TLSMemoryBIOProtocol``'s
own ``write``.  Bytes reach the wire in the order they were written in every case: the
direct path is taken only when no earlier bytes wait anywhere above the socket, including
the small writes Twisted's TLS transport aggregates until the end of the reactor turn.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from OpenSSL.SSL import Error as SSLError
from OpenSSL.SSL import WantReadError
from twisted.internet.tcp import Connection
from twisted.protocols.tls import TLSMemoryBIOProtocol

MAX_RECORD = 2 ** 14  # one TLS record's plaintext; larger writes take the TLS layer's loop


def _idle(tcp: Connection) -> bool:
    """True when the connection is open and nothing waits in its write buffer."""
    return bool(tcp.connected and not tcp.disconnecting and not tcp._writeDisconnected
            and not tcp.dataBuffer and not tcp._tempDataBuffer and not tcp.TLS)


def write_tcp(tcp: Connection, data: bytes) -> None:
    """``tcp.write(data)``, with what the socket takes right now sent at once."""
    if (tcp.connected and not tcp.disconnecting and not tcp._writeDisconnected  # _idle, inline: per write
            and not tcp.dataBuffer and not tcp._tempDataBuffer and not tcp.TLS):
        try:
            sent = tcp.socket.send(data)
        except OSError:  # EAGAIN, EINTR, or a dead peer Twisted will report itself
            sent = 0
        if sent >= len(data):
            return
        if sent:
            data = data[sent:]
    tcp.write(data)


def _aggregated(tls: TLSMemoryBIOProtocol) -> bool:
    """True when Twisted's TLS transport holds small writes back for this reactor turn
    (``BufferingTLSTransport``): the response headers just written, say."""
    aggregator = getattr(tls, "_aggregator", None)
    return bool(getattr(aggregator, "_buffer", None))


def write_tls(tls: TLSMemoryBIOProtocol, data: bytes) -> None:
    """``tls.write(data)``, with the sealed record sent at once when the layers are idle."""
    tcp = tls.transport
    if (not tls._handshakeDone or tls._lostTLSConnection or tls._appSendBuffer or tls.disconnecting
            or len(data) > MAX_RECORD or not isinstance(tcp, Connection) or not _idle(tcp) or _aggregated(tls)):
        tls.write(data)
        return
    conn = tls._tlsConnection
    try:
        sent = conn.send(data)
    except (WantReadError, SSLError):  # nothing was taken; the TLS layer handles it its own way
        tls.write(data)
        return
    out = []
    while True:
        try:
            out.append(conn.bio_read(2 ** 16))
        except WantReadError:
            break
    if out:
        write_tcp(tcp, b"".join(out) if len(out) > 1 else out[0])
    if sent < len(data):
        tls.write(data[sent:])


def writer_for(transport: Any) -> Any:
    """The direct writer for ``transport`` (one argument: the bytes), or its own ``write``
    when it is neither a TCP connection nor TLS over one."""
    if isinstance(transport, TLSMemoryBIOProtocol):
        return partial(write_tls, transport)
    if isinstance(transport, Connection):
        return partial(write_tcp, transport)
    return transport.write
