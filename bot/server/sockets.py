"""Listening sockets for ``signoff serve``'s two ports, shareable between processes.

With ``--processes N`` every process binds the same ports with ``SO_REUSEPORT``, and the
kernel spreads new connections over them: no process forwards to another, and a process
that stops takes only its own connections with it.
"""

from __future__ import annotations

import socket

from store.errors import ConfigError

#: Connections the kernel queues before a process accepts them.
BACKLOG = 2048


def listening(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: a free port) and listening.

    ``proto=IPPROTO_TCP``: asyncio sets TCP_NODELAY only on sockets that say they are TCP;
    without it every response waited ~40 ms for the client's delayed ACK."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                         socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            if not hasattr(socket, "SO_REUSEPORT"):
                raise ConfigError("--processes needs SO_REUSEPORT, which this system does "
                                  "not have: run one process per port (replicas behind "
                                  "your proxy) instead")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)  # connections queue from now on, before any loop runs
    except BaseException:
        sock.close()
        raise
    return sock
