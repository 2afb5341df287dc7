"""The socket under a websocket connection: straight to the server, or through a proxy's tunnel
(python-socks speaks HTTP CONNECT, SOCKS4(a) and SOCKS5(h)); then TLS over it for ``wss://``.
websocket-client runs the websocket handshake on it.

The socket is opened here rather than by websocket-client so that the route chosen by
:func:`nexusdata.proxies.route` is the only one (websocket-client would read the proxy variables
by its own rules), TLS is set up one way whatever the route, and each failure is known for what it
is: the proxy's (refused, asked for credentials, refused the destination, a SOCKS error) or, once
the tunnel is open, the server's.
"""

from __future__ import annotations

import os
import socket
import ssl

from ..proxies import Proxy


class ProxyFailed(OSError):
    """The proxy did not open the tunnel; ``cause`` is python-socks' exception and
    :func:`~nexusdata.transport.failures.diagnose` says what it means."""

    def __init__(self, proxy: Proxy, host: str, port: int, cause: Exception) -> None:
        super().__init__(f"the {proxy.protocol} proxy at {proxy.address} did not open a tunnel to {host}:{port}")
        self.proxy = proxy
        self.host = host
        self.port = port
        self.cause = cause


def connect_directly(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to ``host:port`` within ``timeout`` seconds (each address of the name
    tried in turn), with websocket-client's socket options."""
    return _tuned(socket.create_connection((host, port), timeout))


def open_tunnel(proxy: Proxy, host: str, port: int, timeout: float) -> socket.socket:
    """A socket connected through ``proxy`` to ``host:port`` within ``timeout`` seconds, or
    :class:`ProxyFailed`. With ``socks5://`` or ``socks4://`` the host name is looked up here
    (a failed lookup is the server's ``socket.gaierror``); the other schemes leave it to the proxy."""
    from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError, ProxyType
    from python_socks.sync import Proxy as Client

    types = {"HTTP": ProxyType.HTTP, "SOCKS5": ProxyType.SOCKS5, "SOCKS4": ProxyType.SOCKS4}
    client = Client.create(
        proxy_type=types[proxy.protocol],
        host=proxy.host,
        port=proxy.port,
        username=proxy.username or None,
        password=proxy.password if proxy.username else None,
        rdns=proxy.remote_dns,
    )
    try:
        return _tuned(client.connect(host, port, timeout=timeout))
    except socket.gaierror:  # socks5:// and socks4:// look the server's name up here: the server's failure
        raise
    except (ProxyConnectionError, ProxyError, ProxyTimeoutError, OSError) as exc:  # OSError: broken during the handshake
        raise ProxyFailed(proxy, host, port, exc) from None


def start_tls(sock: socket.socket, host: str, ca_file: str | None) -> ssl.SSLSocket:
    """TLS for ``wss://`` over the open socket ``sock``: the certificate chain and ``host``
    verified against ``ca_file``, else ``WEBSOCKET_CLIENT_CA_BUNDLE`` (a file or a folder, as
    websocket-client reads it), else the system's store. Closes ``sock`` when it fails."""
    bundle = None if ca_file else os.environ.get("WEBSOCKET_CLIENT_CA_BUNDLE")
    try:
        context = ssl.create_default_context(
            cafile=ca_file or (bundle if bundle and os.path.isfile(bundle) else None),
            capath=bundle if bundle and os.path.isdir(bundle) else None,
        )
        return context.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


def _tuned(sock: socket.socket) -> socket.socket:
    """``sock`` with websocket-client's options: no Nagle delay, TCP keep-alive probes."""
    from websocket import DEFAULT_SOCKET_OPTION

    for option in DEFAULT_SOCKET_OPTION:
        sock.setsockopt(*option)
    return sock
