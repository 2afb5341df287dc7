"""Proxies on 127.0.0.1 for the proxy tests, each telling what went through it.

- :func:`http_proxy`: the ``proxy.py`` package's HTTP proxy (CONNECT, ``--basic-auth``), with a
  plugin of this module that writes every CONNECT it opens to a file (the proxy's acceptor runs in
  a process of its own), refuses a tunnel to :data:`FORBIDDEN` with 403 and looks the names under
  :data:`TEST_DOMAIN` up as 127.0.0.1, so that no name leaves this machine.
- :class:`SocksServer`: a SOCKS5 server written here (RFC 1928, and RFC 1929 username and
  password when given credentials; SOCKS4 and 4a too), which counts what it relays, looks up the
  names under :data:`TEST_DOMAIN` as 127.0.0.1, refuses :data:`FORBIDDEN` by its rules (reply 2)
  and answers any other name "host unreachable" (reply 4). It relays to loopback addresses only.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import struct
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import proxy
from proxy.common.flag import flags
from proxy.http.exception import HttpRequestRejected
from proxy.http.parser import HttpParser
from proxy.http.proxy import HttpProxyBasePlugin

TEST_DOMAIN = "nexusdata.test"
"""Names under this domain (reserved for tests: RFC 2606) are 127.0.0.1 to both proxies."""
FORBIDDEN = f"forbidden.{TEST_DOMAIN}"
"""The host both proxies refuse by their rules."""
WAIT = 5.0
"""Seconds a proxy waits on a client or the server before giving up on it."""

flags.add_argument("--witness-log", default=None, help="file the Witness plugin writes each CONNECT to")


class Witness(HttpProxyBasePlugin):
    """Writes ``host:port`` of every CONNECT the proxy opens to ``--witness-log``; refuses
    :data:`FORBIDDEN` with 403 and resolves :data:`TEST_DOMAIN` names to 127.0.0.1."""

    def resolve_dns(self, host: str, port: int) -> tuple[str | None, Any]:
        return ("127.0.0.1" if host.endswith(TEST_DOMAIN) else None), None

    def before_upstream_connection(self, request: HttpParser) -> HttpParser | None:
        host = (request.host or b"").decode()
        if host == FORBIDDEN:
            raise HttpRequestRejected(status_code=403, reason=b"Forbidden")
        if request.method == b"CONNECT" and self.flags.witness_log:
            with open(self.flags.witness_log, "a", encoding="utf-8") as log:
                log.write(f"{host}:{request.port}\n")
        return request


@dataclass(frozen=True)
class HttpProxy:
    """A running ``proxy.py``: its port, and the tunnels it opened so far."""

    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connects(self) -> list[str]:
        """``host:port`` of every tunnel opened, in order."""
        return self.log.read_text(encoding="utf-8").split() if self.log.exists() else []


@contextmanager
def http_proxy(directory: Path, auth: str | None = None) -> Iterator[HttpProxy]:
    """``proxy.py`` on a free loopback port, asking for ``auth`` (``user:password``) if given."""
    log = directory / f"connects-{uuid.uuid4().hex}.log"
    args = ["--hostname", "127.0.0.1", "--port", "0", "--num-acceptors", "1", "--log-level", "CRITICAL"]
    args += ["--timeout", "30", "--witness-log", str(log), *(["--basic-auth", auth] if auth else [])]
    with proxy.Proxy(args, plugins=[Witness]) as running:
        yield HttpProxy(running.flags.port, log)


class Relayed(NamedTuple):
    """One connection a SOCKS server handled: the address as the client sent it (``kind`` is
    ``"ipv4"``, ``"ipv6"`` or ``"name"``: the client left the lookup to the proxy) and the reply code."""

    kind: str
    host: str
    port: int
    reply: int


class SocksServer:
    """A SOCKS5 (and SOCKS4) server on a free loopback port, in threads of its own (see the
    module's docstring).

    ``with SocksServer(("user", "password")) as server:``; ``server.url`` is its
    ``socks5://127.0.0.1:PORT`` (no credentials), ``server.relayed`` what it handled and
    ``server.refused_logins`` the logins it refused."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.credentials = credentials
        self.relayed: list[Relayed] = []
        self.user_ids: list[str] = []  # SOCKS4's
        self.refused_logins = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def url(self, scheme: str = "socks5", login: str = "") -> str:
        return f"{scheme}://{login}{'@' if login else ''}127.0.0.1:{self.port}"

    def __enter__(self) -> SocksServer:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._threads[0].join(WAIT)  # the accepting thread: no connection starts after it
        for thread in self._threads[1:]:
            thread.join(WAIT)
        self._listener.close()

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name="socks5-test-server", daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._spawn(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        with client:
            client.settimeout(WAIT)
            try:
                upstream = self._handshake(client)
            except (OSError, ValueError):
                return
            if upstream is not None:
                with upstream:
                    self._relay(client, upstream)

    def _handshake(self, client: socket.socket) -> socket.socket | None:
        version, count = _read(client, 2)
        if version == 4:
            return self._socks4(client, count)
        if version != 5:
            raise ValueError("not SOCKS")
        methods = _read(client, count)
        wanted = 2 if self.credentials else 0
        if wanted not in methods:
            client.sendall(b"\x05\xff")
            return None
        client.sendall(bytes([5, wanted]))
        if self.credentials and not self._login(client):
            return None
        _, command, _, kind = _read(client, 4)
        if kind == 1:
            host, name = socket.inet_ntoa(_read(client, 4)), "ipv4"
        elif kind == 4:
            host, name = socket.inet_ntop(socket.AF_INET6, _read(client, 16)), "ipv6"
        else:
            host, name = _read(client, _read(client, 1)[0]).decode(), "name"
        port = struct.unpack("!H", _read(client, 2))[0]
        address, reply = self._destination(host) if command == 1 else (None, 7)
        upstream = None
        if address is not None:
            try:
                upstream = socket.create_connection((address, port), timeout=WAIT)
            except OSError:
                reply = 5
        with self._lock:
            self.relayed.append(Relayed(name, host, port, reply))
        client.sendall(bytes([5, reply, 0, 1]) + socket.inet_aton("127.0.0.1") + struct.pack("!H", 0))
        return upstream

    def _socks4(self, client: socket.socket, command: int) -> socket.socket | None:
        """SOCKS4 (the user id is kept as sent, no credentials) and SOCKS4a (an address of
        0.0.0.x, then the host name); SOCKS4 has one refusal, 0x5B."""
        port, address = struct.unpack("!H", _read(client, 2))[0], _read(client, 4)
        self.user_ids.append(_until_null(client))
        if address[:3] == b"\0\0\0" and address[3]:
            host, name = _until_null(client), "name"
        else:
            host, name = socket.inet_ntoa(address), "ipv4"
        destination = self._destination(host)[0] if command == 1 else None
        upstream = None
        if destination is not None:
            try:
                upstream = socket.create_connection((destination, port), timeout=WAIT)
            except OSError:
                upstream = None
        with self._lock:
            self.relayed.append(Relayed(name, host, port, 0 if upstream else 0x5B))
        client.sendall(bytes([0, 0x5A if upstream else 0x5B]) + struct.pack("!H", 0) + bytes(4))
        return upstream

    def _login(self, client: socket.socket) -> bool:
        _, size = _read(client, 2)
        user = _read(client, size).decode()
        password = _read(client, _read(client, 1)[0]).decode()
        good = (user, password) == self.credentials
        client.sendall(b"\x01\x00" if good else b"\x01\x01")
        if not good:
            with self._lock:
                self.refused_logins += 1
        return good

    @staticmethod
    def _destination(host: str) -> tuple[str | None, int]:
        """Where to connect for ``host`` and the reply: 0 with the address, else the refusal."""
        if host == FORBIDDEN:
            return None, 2
        if host.endswith(TEST_DOMAIN):
            return "127.0.0.1", 0
        try:
            return (host, 0) if ipaddress.ip_address(host).is_loopback else (None, 2)
        except ValueError:
            return None, 4

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy both ways until either side closes or the server stops."""
        pairs = {client: upstream, upstream: client}
        while not self._stopping.is_set():
            ready, _, _ = select.select(list(pairs), [], [], 0.2)
            for sock in ready:
                try:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pairs[sock].sendall(data)
                except OSError:
                    return


def _until_null(sock: socket.socket, limit: int = 255) -> str:
    """A null-terminated string of at most ``limit`` bytes."""
    data = b""
    while len(data) <= limit:
        byte = _read(sock, 1)
        if byte == b"\0":
            return data.decode()
        data += byte
    raise ValueError("no null within the limit")


def _read(sock: socket.socket, size: int) -> bytes:
    """Exactly ``size`` bytes, or ``ValueError`` if the peer closed first."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ValueError("closed")
        data += chunk
    return data
