"""A connection through a proxy: the tunnel to the server (python-socks speaks HTTP CONNECT,
SOCKS4(a) and SOCKS5(h)), then TLS over it for ``wss://``, verified as websocket-client verifies
a direct connection. websocket-client then runs the websocket handshake on the socket.

The tunnel is opened here rather than by websocket-client's own proxy options so that each
failure is known for what it is: the proxy's (refused, asked for credentials, refused the
destination, a SOCKS error) or, once the tunnel is open, the server's.
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
        return client.connect(host, port, timeout=timeout)
    except socket.gaierror:  # socks5:// and socks4:// look the server's name up here: the server's failure
        raise
    except (ProxyConnectionError, ProxyError, ProxyTimeoutError, OSError) as exc:  # OSError: broken during the handshake
        raise ProxyFailed(proxy, host, port, exc) from None


def start_tls(sock: socket.socket, host: str, ca_file: str | None) -> ssl.SSLSocket:
    """TLS for ``wss://`` over the open tunnel ``sock``: the certificate chain and ``host`` verified
    against ``ca_file``, else websocket-client's ``WEBSOCKET_CLIENT_CA_BUNDLE``, else the system's
    store, as on a direct connection. Closes ``sock`` when the handshake fails."""
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
