"""Proxies: both feeds over ``ws://`` and ``wss://`` through a real HTTP CONNECT proxy
(``proxy.py``, with and without basic auth) and a SOCKS server (tests/proxy_servers.py: SOCKS5
with and without username and password, SOCKS4 and 4a), each asserted to have carried the
connection; the standard environment variables; the proxy's refusals (407, 403, refused, SOCKS
errors) named as the proxy's, at once when retrying cannot help; ``nexusdata check`` and
``--proxy``; and no proxy password in any message, log line, repr, traceback, transcript or trace.

The servers are the simulator on 127.0.0.1. A URL whose host is ``sim.nexusdata.test`` can only
be reached through a proxy: both proxies look that name up as 127.0.0.1, and nothing else does.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import traceback
from collections.abc import Callable, Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

import pytest
from cryptography import x509
from proxy_servers import FORBIDDEN, TEST_DOMAIN, HttpProxy, SocksServer, http_proxy
from test_check import closed_port, run_cli
from test_secrets import LIBRARIES, leaks
from test_tls import self_signed
from waiting import giving_up, wait_until, well_before

import nexusdata as nd
from nexusdata import proxies
from nexusdata.cli import EXIT_ERROR, EXIT_OK
from nexusdata.config import Options
from nexusdata.sim import Simulator

pytestmark = pytest.mark.timeout(60)

USER, PASSWORD = "analyst", "pr0xy-p@ss:w/rd+secret"  # URL-special characters: written %-encoded in a URL
LOGIN = f"{USER}:{quote(PASSWORD, safe='')}"
NAME = f"sim.{TEST_DOMAIN}"
FEEDS = ("nexus", "chainext")
QUICK = {"seconds": 10, "max_messages": 3}


class Proxies(NamedTuple):
    http: HttpProxy  # no credentials
    http_auth: HttpProxy  # USER:PASSWORD
    socks: SocksServer  # no credentials
    socks_auth: SocksServer  # USER:PASSWORD


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxies]:
    directory = tmp_path_factory.mktemp("proxies")
    with (
        http_proxy(directory) as http,
        http_proxy(directory, f"{USER}:{PASSWORD}") as http_auth,
        SocksServer() as socks,
        SocksServer((USER, PASSWORD)) as socks_auth,
    ):
        yield Proxies(http, http_auth, socks, socks_auth)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and NAME, its own CA."""
    names = (x509.IPAddress(ip_address("127.0.0.1")), x509.DNSName(NAME))
    return self_signed(tmp_path_factory.mktemp("proxy-certs"), "proxied", *names)


@pytest.fixture(scope="module")
def sims(ca: tuple[Path, Path]) -> Iterator[dict[str, Simulator]]:
    """A ``ws://`` and a ``wss://`` simulator."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*ca)
    with Simulator(seed=21, rate=50) as plain, Simulator(seed=21, rate=50, ssl_context=context) as tls:
        yield {"ws": plain, "wss": tls}


def conn(sim: Simulator, feed: str, host: str = "127.0.0.1", port: int | None = None) -> dict[str, Any]:
    """``feed``'s credentials at ``sim``, its URL's host (and port) replaced."""
    given = dict(getattr(sim, feed))
    given["url"] = given["url"].replace(f"127.0.0.1:{sim.port}", f"{host}:{port or sim.port}")
    return given


def collect(feed: str, **kw: Any) -> Any:
    """Three pushes of ``feed``."""
    if feed == "nexus":
        return nd.stream_depth("BTCUSDT", **{**QUICK, **kw})
    return nd.collect_index("coin_index", "1", **{**QUICK, **kw})


# -- choosing the proxy: no socket ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "host, port, entries, match",
    [
        ("feed.example.com", 443, "*", "*"),
        ("feed.example.com", 443, "example.com", "example.com"),  # a domain and its subdomains
        ("example.com", 443, ".example.com", ".example.com"),
        ("feed.example.com", 443, "*.example.com", "*.example.com"),
        ("FEED.Example.COM.", 443, "example.com", "example.com"),  # case and a final dot do not count
        ("badexample.com", 443, "example.com", None),  # a suffix is not a subdomain
        ("feed.example.com", 444, "example.com:444", "example.com:444"),
        ("feed.example.com", 443, "example.com:444", None),  # another port
        ("10.1.2.3", 443, "10.0.0.0/8", "10.0.0.0/8"),
        ("10.1.2.3", 443, "10.1.2.3:443", "10.1.2.3:443"),
        ("11.1.2.3", 443, "10.0.0.0/8", None),
        ("::1", 8443, "::1", "::1"),  # a bare IPv6 address has no port
        ("2001:db8::7", 444, "[2001:db8::7]:444", "[2001:db8::7]:444"),
        ("2001:db8::7", 443, "2001:db8::/32", "2001:db8::/32"),
        ("feed.example.com", 443, "10.0.0.0/8", None),  # names are not looked up
        ("b.example", 443, " a.example ,b.example  c.example", "b.example"),  # commas and spaces
        ("feed.example.com", 443, ",, ", None),
    ],
)
def test_no_proxy_entries(host: str, port: int, entries: str, match: str | None) -> None:
    assert proxies.no_proxy_match(host, port, entries) == match


@pytest.mark.parametrize(
    "url, env, expected",
    [
        ("wss://feed.example:444", {}, None),
        ("wss://feed.example:444", {"HTTPS_PROXY": "proxy.corp:3128"}, "http://proxy.corp:3128 HTTPS_PROXY"),  # no scheme: http
        ("wss://feed.example:444", {"HTTP_PROXY": "http://p:1"}, None),  # the variable of ws://
        ("ws://feed.example", {"HTTP_PROXY": "http://p:1", "ALL_PROXY": "socks5h://s:2"}, "http://p:1 HTTP_PROXY"),
        ("ws://feed.example", {"all_proxy": "socks5://s:2", "ALL_PROXY": "http://p:1"}, "socks5://s:2 all_proxy"),
        ("wss://feed.example", {"https_proxy": " ", "HTTPS_PROXY": "http://p:1"}, "http://p:1 HTTPS_PROXY"),  # blank: unset
        ("wss://feed.example", {"ALL_PROXY": "http://p:1", "NO_PROXY": "feed.example"}, None),
        (
            "wss://feed.example",
            {"ALL_PROXY": "http://p:1", "no_proxy": "other", "NO_PROXY": "feed.example"},
            "http://p:1 ALL_PROXY",
        ),
        ("wss://localhost:1", {"ALL_PROXY": "http://p:1"}, None),
        ("wss://a.localhost:1", {"ALL_PROXY": "http://p:1"}, None),
        ("wss://127.8.9.1:1", {"ALL_PROXY": "http://p:1"}, None),
        ("wss://[::1]:1", {"ALL_PROXY": "http://p:1"}, None),
        ("wss://[::ffff:127.0.0.1]:1", {"ALL_PROXY": "http://p:1"}, None),
        ("wss://10.0.0.1:1", {"ALL_PROXY": "http://u:p%40ss@p:1/"}, "http://u:***@p:1 ALL_PROXY"),
    ],
)
def test_the_environment_route(url: str, env: dict[str, str], expected: str | None) -> None:
    chosen = proxies.route(url, None, env)
    assert (None if chosen.proxy is None else f"{chosen.proxy.display} {chosen.proxy.source}") == expected, chosen


def test_the_keyword_wins_and_false_turns_proxies_off() -> None:
    env = {"ALL_PROXY": "http://p:1", "NO_PROXY": "feed.example"}
    assert proxies.route("wss://feed.example", "socks5h://s:2", env).proxy == proxies.Proxy("socks5h", "s", 2)
    assert proxies.route("wss://127.0.0.1:9", "http://p:3", {}).proxy is not None  # loopback too: the tests' way
    for off in (False, ""):
        assert proxies.route("wss://other.example", off, env).proxy is None


def test_a_proxy_keeps_its_credentials_and_shows_none() -> None:
    proxy = proxies.parse(f"socks5h://{LOGIN}@[2001:db8::1]:1080")
    assert (proxy.username, proxy.password, proxy.host, proxy.port, proxy.remote_dns) == (
        USER,
        PASSWORD,
        "2001:db8::1",
        1080,
        True,
    )
    assert proxy.address == "[2001:db8::1]:1080" and proxy.display == f"socks5h://{USER}:***@[2001:db8::1]:1080"
    options = Options(proxy=f"http://{LOGIN}@p:1")
    assert isinstance(options.proxy, proxies.Proxy) and options.proxy.password == PASSWORD
    assert not leaks(repr(options) + repr(proxy) + str(proxies.Route(proxy, "proxy=")), [PASSWORD])
    assert Options(proxy="").proxy is False and Options().proxy is None


# -- through each proxy ---------------------------------------------------------------------------------


class Way(NamedTuple):
    """How a case reaches the server: the proxy's URL, the server's host, and what the proxy
    must have seen of the connection afterwards (given the proxies and the server's port)."""

    url: Callable[[Proxies], str]
    host: str
    seen: Callable[[Proxies, int], Any]


WAYS = {
    "http": Way(lambda p: p.http.url, "127.0.0.1", lambda p, port: p.http.connects()[-1] == f"127.0.0.1:{port}"),
    "http_auth_name": Way(
        lambda p: p.http_auth.url.replace("://", f"://{LOGIN}@"),
        NAME,
        lambda p, port: p.http_auth.connects()[-1] == f"{NAME}:{port}",
    ),
    "socks5": Way(lambda p: p.socks.url(), "127.0.0.1", lambda p, port: p.socks.relayed[-1] == ("ipv4", "127.0.0.1", port, 0)),
    "socks5_auth": Way(
        lambda p: p.socks_auth.url(login=LOGIN),
        "127.0.0.1",
        lambda p, port: p.socks_auth.relayed[-1] == ("ipv4", "127.0.0.1", port, 0),
    ),
    "socks5h_name": Way(lambda p: p.socks.url("socks5h"), NAME, lambda p, port: p.socks.relayed[-1] == ("name", NAME, port, 0)),
    "socks4": Way(
        lambda p: p.socks.url("socks4", USER),
        "127.0.0.1",
        lambda p, port: p.socks.relayed[-1] == ("ipv4", "127.0.0.1", port, 0) and p.socks.user_ids[-1] == USER,
    ),
    "socks4a_name": Way(lambda p: p.socks.url("socks4a"), NAME, lambda p, port: p.socks.relayed[-1] == ("name", NAME, port, 0)),
}


def carried(proxies: Proxies) -> int:
    """Connections the four proxies carried so far."""
    return (
        len(proxies.http.connects())
        + len(proxies.http_auth.connects())
        + len(proxies.socks.relayed)
        + len(proxies.socks_auth.relayed)
    )


@pytest.mark.parametrize("scheme", ["ws", "wss"])
@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize("way", WAYS, ids=str)
def test_both_feeds_through_each_proxy(
    running: Proxies, sims: dict[str, Simulator], ca: tuple[Path, Path], way: str, feed: str, scheme: str
) -> None:
    sim, how = sims[scheme], WAYS[way]
    before, served = carried(running), sim.connections_total
    df = collect(feed, proxy=how.url(running), ca_file=str(ca[0]), **conn(sim, feed, how.host))
    assert df["received_at"].nunique() == 3 and set(df["connection"]) == {1}
    assert carried(running) == before + 1 and how.seen(running, sim.port)  # the one connection went through it
    assert sim.connections_total == served + 1


def test_a_live_handle_and_a_recording_go_through_the_proxy(running: Proxies, sims: dict[str, Simulator], tmp_path: Path) -> None:
    sim = sims["ws"]
    before = len(running.socks.relayed)
    with nd.live_depth("BTCUSDT", proxy=running.socks.url("socks5h"), **conn(sim, "nexus", NAME)) as live:
        assert wait_until(lambda: len(live.frame()) >= 10)
    summary = nd.record(
        tmp_path / "rec", "coin_index", "1", progress=False, proxy=running.http.url, **conn(sim, "chainext", NAME), **QUICK
    )
    assert summary.rows > 0 and nd.read_recording(tmp_path / "rec", "coin_index")["cid"].nunique() == 1
    assert running.socks.relayed[before:] == [("name", NAME, sim.port, 0)]
    assert running.http.connects()[-1] == f"{NAME}:{sim.port}"


# -- the environment ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scheme, variables",
    [
        ("wss", {"HTTPS_PROXY": "http"}),
        ("ws", {"HTTP_PROXY": "http"}),
        ("ws", {"ALL_PROXY": "socks5h"}),
        ("wss", {"all_proxy": "socks5h", "http_proxy": "closed"}),  # HTTP_PROXY is for ws:// only
        ("wss", {"https_proxy": "http", "HTTPS_PROXY": "closed"}),  # lower case first
        ("ws", {"http_proxy": "socks5h", "no_proxy": "example.com,10.0.0.0/8"}),  # NO_PROXY lists something else
    ],
    ids=lambda v: v if isinstance(v, str) else ",".join(v),
)
def test_the_environment_names_the_proxy(
    running: Proxies,
    sims: dict[str, Simulator],
    ca: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    scheme: str,
    variables: dict[str, str],
) -> None:
    urls = {"http": running.http.url, "socks5h": running.socks.url("socks5h"), "closed": f"http://127.0.0.1:{closed_port()}"}
    for name, which in variables.items():
        monkeypatch.setenv(name, urls[which] if which in urls else which)
    before = carried(running)
    df = collect("nexus", ca_file=str(ca[0]), **conn(sims[scheme], "nexus", NAME))  # a name only a proxy knows
    assert df["received_at"].nunique() == 3 and carried(running) == before + 1


@pytest.mark.parametrize(
    "variables, option, why",
    [
        ({"HTTPS_PROXY": "http", "HTTP_PROXY": "http"}, None, "127.0.0.1 is this machine: HTTP_PROXY is not used for it"),
        ({"ALL_PROXY": "http", "NO_PROXY": "*.nexusdata.test, 127.0.0.1"}, None, "NO_PROXY lists '127.0.0.1'"),
        ({"ALL_PROXY": "http", "no_proxy": "127.0.0.0/8", "NO_PROXY": "other"}, None, "no_proxy lists '127.0.0.0/8'"),
        ({"ALL_PROXY": "http"}, False, "turned off by proxy="),
        ({"ALL_PROXY": "http"}, "", "turned off by proxy="),
    ],
    ids=["loopback", "NO_PROXY", "no_proxy_first", "proxy_False", "proxy_empty"],
)
def test_direct_connections_say_why_and_leave_the_proxy_alone(
    running: Proxies,
    sims: dict[str, Simulator],
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    option: Any,
    why: str,
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, running.http.url if value == "http" else value)
    before = carried(running)
    df = nd.check("nexus", seconds=5, pushes=2, proxy=option, **sims["ws"].nexus)
    assert df.attrs["nexusdata"]["passed"], nd.format_transcript(df)
    assert df["detail"].iloc[0].endswith(f"; no proxy ({why})") and "proxy" not in list(df["step"])
    assert carried(running) == before


def test_proxy_keyword_wins_over_the_environment(
    running: Proxies, sims: dict[str, Simulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("NO_PROXY", TEST_DOMAIN)  # it lists the host: the keyword is used all the same
    before = len(running.socks.relayed)
    df = collect("chainext", proxy=running.socks.url("socks5h"), **conn(sims["ws"], "chainext", NAME))
    assert df["received_at"].nunique() == 3 and len(running.socks.relayed) == before + 1


@pytest.mark.parametrize(
    "value, says",
    [
        ("https://proxy.example:3128", "https:// proxies"),
        ("socks5://proxy.example", "no port"),
        ("ftp://proxy.example:21", "scheme http, socks5"),
        (f"http://{USER}:{PASSWORD}@proxy.example:99999", "port is not a number"),
    ],
)
def test_a_malformed_variable_is_a_bad_argument_naming_it(
    sims: dict[str, Simulator], monkeypatch: pytest.MonkeyPatch, value: str, says: str
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", value)
    monkeypatch.setenv("NEXUSDATA_NEXUS_URL", f"wss://{NAME}:1")
    monkeypatch.setenv("NEXUSDATA_NEXUS_TOKEN", "tok")
    with pytest.raises(nd.ArgumentError, match="HTTPS_PROXY") as bad:
        nd.live_depth("BTCUSDT")
    assert says in str(bad.value) and PASSWORD not in str(bad.value) and nd.live_handles() == []


# -- refusals --------------------------------------------------------------------------------------------


class Refusal(NamedTuple):
    proxy: Callable[[Proxies], str]
    host: str
    says: str
    code: int | None


PERMANENT = {
    "407_wrong_password": Refusal(
        lambda p: p.http_auth.url.replace("://", f"://{USER}:wrong@"), "127.0.0.1", "refused the credentials (407", 407
    ),
    "407_no_credentials": Refusal(lambda p: p.http_auth.url, "127.0.0.1", "asks for credentials (407", 407),
    "403_connect_refused": Refusal(lambda p: p.http.url, FORBIDDEN, f"refused a tunnel to {FORBIDDEN}:", 403),
    "socks_wrong_password": Refusal(
        lambda p: p.socks_auth.url(login=f"{USER}:wrong"), "127.0.0.1", "refused the username and password", None
    ),
    "socks_no_credentials": Refusal(lambda p: p.socks_auth.url(), "127.0.0.1", "wants a username and password", None),
    "socks_not_allowed": Refusal(lambda p: p.socks.url("socks5h"), FORBIDDEN, "not allowed by ruleset", 2),
}


@pytest.mark.timeout(120)  # a client that retried would give up only after giving_up() seconds
@pytest.mark.parametrize("case", PERMANENT)
def test_a_refusal_retrying_cannot_fix_ends_at_once_as_the_proxys(
    running: Proxies, sims: dict[str, Simulator], case: str, no_thread_leak: None
) -> None:
    refusal, sim = PERMANENT[case], sims["ws"]
    served = sim.connections_total
    with well_before(giving_up()), pytest.raises(nd.ProxyError) as refused:
        collect("nexus", seconds=60, proxy=refusal.proxy(running), **conn(sim, "nexus", refusal.host))
    error = refused.value
    message = str(error)
    assert refusal.says in message and "proxy" in message and isinstance(error, nd.ConnectionFailedError)
    assert error.code == refusal.code and error.proxy.startswith("127.0.0.1:")
    assert list(nd.gap_log(error)["event"]) == ["connect_failed"] and sim.connections_total == served
    assert PASSWORD not in message and "wrong" not in message


@pytest.fixture(scope="module")
def banner() -> Iterator[int]:
    """A port whose server greets every connection with an SSH banner and closes it: what a
    proxy URL with the ssh port instead of the tunnel's (``ssh -D``) reaches."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def greet() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            with client:
                client.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    thread = threading.Thread(target=greet, name="banner-server", daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(5)
    server.close()


@pytest.mark.parametrize(
    "scheme, at, says, fix",
    [
        ("socks5", "banner", "did not answer as a SOCKS5 proxy (unexpected socks version number: 83)", "check the scheme"),
        ("http", "banner", "did not answer as an HTTP proxy (invalid status line: ssh-2.0-openssh_9.2)", "check the scheme"),
        ("http", "server", "does not open tunnels (CONNECT answered 404 Not Found)", "forward proxy that allows CONNECT"),
    ],
)
def test_something_that_is_no_proxy_is_named_at_once(
    sims: dict[str, Simulator], banner: int, scheme: str, at: str, says: str, fix: str
) -> None:
    sim = sims["ws"]
    port = banner if at == "banner" else sim.port
    with well_before(giving_up()), pytest.raises(nd.ProxyError) as refused:
        collect("nexus", seconds=60, proxy=f"{scheme}://127.0.0.1:{port}", **sim.nexus)
    assert says in str(refused.value) and fix in str(refused.value).rsplit("; ", 1)[1]


TRANSIENT: dict[str, tuple[Callable[[Proxies], str], str, bool, str]] = {  # proxy, host, at a closed port, what it says
    "proxy_not_listening": (lambda p: f"http://127.0.0.1:{closed_port()}", "127.0.0.1", False, "connection refused by the proxy"),
    "socks_not_listening": (lambda p: f"socks5h://127.0.0.1:{closed_port()}", NAME, False, "connection refused by the proxy"),
    "502_server_down": (lambda p: p.http.url, "127.0.0.1", True, "could not reach 127.0.0.1:"),
    "socks_host_unreachable": (lambda p: p.socks.url("socks5h"), "unknown.example", False, "could not reach unknown.example:"),
    "socks_server_down": (lambda p: p.socks.url("socks5h"), NAME, True, f"could not reach {NAME}:"),
    "http_scheme_to_a_socks_server": (
        lambda p: p.socks.url("http"),
        "127.0.0.1",
        False,
        "closed the connection during its handshake",
    ),
}


@pytest.mark.parametrize("case", TRANSIENT)
def test_a_failure_worth_retrying_is_retried_and_named_as_the_proxys(
    running: Proxies, sims: dict[str, Simulator], case: str, no_thread_leak: None
) -> None:
    proxy, host, closed, says = TRANSIENT[case]
    options = {"max_failures": 2, "backoff_base": 0.05, "backoff_cap": 0.1}
    with pytest.raises(nd.ConnectionFailedError) as failed:
        collect("nexus", proxy=proxy(running), **options, **conn(sims["ws"], "nexus", host, closed_port() if closed else None))
    assert not isinstance(failed.value, nd.ProxyError) and "after 2 consecutive failed attempts" in str(failed.value)
    reasons = list(nd.gap_log(failed.value)["reason"])
    assert len(reasons) == 2 and all(says in reason for reason in reasons), reasons


# -- nexusdata check and --proxy --------------------------------------------------------------------------


def test_check_names_the_proxy_it_went_through(running: Proxies, sims: dict[str, Simulator], ca: tuple[Path, Path]) -> None:
    proxy = running.http_auth.url.replace("://", f"://{LOGIN}@")
    df = nd.check("chainext", seconds=5, pushes=2, proxy=proxy, ca_file=str(ca[0]), **conn(sims["wss"], "chainext", NAME))
    text = nd.format_transcript(df)
    assert df.attrs["nexusdata"]["passed"], text
    assert list(df["step"][:3]) == ["configuration", "proxy", "handshake"]
    assert (
        df["detail"]
        .iloc[0]
        .endswith(f"; through the HTTP proxy http://{USER}:***@127.0.0.1:{running.http_auth.port} (from proxy=)")
    )
    assert df["detail"].iloc[1] == (
        f"the HTTP proxy at 127.0.0.1:{running.http_auth.port} opened a tunnel to {NAME}:{sims['wss'].port} (the proxy looked the name up)"
    )
    assert df.attrs["nexusdata"]["proxy"] == f"http://{USER}:***@127.0.0.1:{running.http_auth.port}"
    assert not leaks(text + repr(df.attrs), [PASSWORD])


@pytest.mark.parametrize("feed", FEEDS)
def test_cli_proxy_flag(running: Proxies, sims: dict[str, Simulator], feed: str) -> None:
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in conn(sims["ws"], feed, NAME).items()]
    status, output = run_cli(["check", feed, "--pushes", "2", *flags, "--proxy", running.socks_auth.url("socks5h", LOGIN)])
    assert status == EXIT_OK, output
    assert f"through the SOCKS5 proxy socks5h://{USER}:***@127.0.0.1:{running.socks_auth.port} (from proxy=)" in output
    assert not leaks(output, [PASSWORD])
    status, output = run_cli(["check", feed, *flags, "--proxy", running.socks_auth.url("socks5h", f"{USER}:wrong")])
    assert status == EXIT_ERROR and "✗ FAILED at proxy: the SOCKS5 proxy at" in output, output
    assert "hint: check user:password in proxy=" in output


def test_cli_record_takes_proxy(running: Proxies, sims: dict[str, Simulator], tmp_path: Path) -> None:
    before = len(running.http.connects())
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in conn(sims["ws"], "nexus", NAME).items()]
    status, output = run_cli(
        ["record", "depth", "BTCUSDT", "--max-messages", "3", "--seconds", "10", "--no-progress", "--out", str(tmp_path), *flags]
        + ["--proxy", running.http.url]
    )  # fmt: skip
    assert status == EXIT_OK, output
    assert running.http.connects()[before:] == [f"{NAME}:{sims['ws'].port}"]


# -- secrets ----------------------------------------------------------------------------------------------


def test_no_proxy_password_anywhere(
    running: Proxies,
    sims: dict[str, Simulator],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Passing, refused and failing connections through proxies with the password in the
    keyword and in a variable: not in any log line (everything at DEBUG), error, repr, transcript,
    its attrs or trace."""
    for name in (None, *LIBRARIES, "python_socks"):
        caplog.set_level(logging.DEBUG, logger=name)
    sim, seen = sims["ws"], []
    good, bad = (
        running.http_auth.url.replace("://", f"://{LOGIN}@"),
        running.socks_auth.url("socks5h", f"{USER}:{quote(PASSWORD + 'x', safe='')}"),
    )
    options = Options(proxy=good)
    seen += [repr(options), str(options), repr(options.proxy), str(proxies.route(sim.nexus_url, options.proxy, {}))]
    with nd.live_depth("BTCUSDT", proxy=good, **conn(sim, "nexus", NAME)) as live:
        assert wait_until(lambda: len(live.frame()) >= 3)
        seen += [repr(live), str(live.stats())]
    for proxy in (bad, f"socks5h://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{closed_port()}"):
        with pytest.raises(nd.ConnectionFailedError) as failed:
            collect("nexus", proxy=proxy, max_failures=1, **conn(sim, "nexus", NAME))
        seen += [str(failed.value), repr(failed.value), "".join(traceback.format_exception(failed.value))]
        seen.append(nd.gap_log(failed.value).to_string())
    monkeypatch.setenv("HTTPS_PROXY", bad)
    for bad_value in (f"https://{USER}:{PASSWORD}@h:1", f"ftp://{USER}:{PASSWORD}@h:1"):
        with pytest.raises(nd.ArgumentError) as wrong:
            nd.stream_depth("BTCUSDT", seconds=1, proxy=bad_value, **sim.nexus)
        seen.append(str(wrong.value))
    trace = tmp_path / "trace.jsonl"
    df = nd.check("chainext", seconds=5, pushes=2, trace=trace, **conn(sims["wss"], "chainext", NAME))  # through HTTPS_PROXY
    assert df["step"].iloc[1] == "proxy" and "refused the username and password" in df["detail"].iloc[1]
    seen += [nd.format_transcript(df), repr(df.attrs), trace.read_text()]
    seen += [record.getMessage() for record in caplog.records]
    assert caplog.records and not leaks("\n".join(seen), [PASSWORD, PASSWORD + "x"])
