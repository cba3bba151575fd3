"""A TCP proxy in front of PostgreSQL that counts round trips: how often the client waited for the server.

A round trip is counted each time the client sends after the server last answered (the client's first bytes
included), so a pipeline of statements and its COMMIT is one, and so is a statement and its result. Bound to
127.0.0.1, port 0; one thread per direction of each connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.engine import make_url


@dataclass
class _Link:
    """One client connection: whether the server spoke since the client last sent."""

    answered: bool = True


@dataclass
class RoundTripProxy:
    """Forwards to `target` (host, port); `round_trips` counts since the last `reset`."""

    target: tuple[str, int]
    round_trips: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listener: socket.socket | None = None
    _sockets: list[socket.socket] = field(default_factory=list)

    def start(self) -> int:
        """Listen on 127.0.0.1, port 0; the port."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True).start()
        return int(listener.getsockname()[1])

    def reset(self) -> None:
        with self._lock:
            self.round_trips = 0

    def close(self) -> None:
        for sock in [self._listener, *self._sockets]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets += [client, server]
            link = _Link()
            threading.Thread(target=self._pump, args=(client, server, link, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, link, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, link: _Link, from_client: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            with self._lock:
                if from_client and link.answered:
                    self.round_trips += 1
                link.answered = not from_client
            try:
                sink.sendall(data)
            except OSError:
                return


@contextlib.contextmanager
def round_trip_proxy(url: str) -> Iterator[tuple[RoundTripProxy, str]]:
    """A proxy in front of the PostgreSQL server of `url`, and `url` pointed at it."""
    parsed = make_url(url)
    proxy = RoundTripProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
    port = proxy.start()
    try:
        yield proxy, parsed.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        proxy.close()
