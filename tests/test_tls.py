"""``wss://``: the client verifies the server's certificate by default, refuses a self-signed one
at once (retrying cannot fix it) and accepts it when given the CA bundle with ``ca_file=``.

Certificates are made here with the ``cryptography`` package (a dependency of the test
environment); the simulator serves them through its ``ssl_context`` keyword.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from waiting import giving_up, well_before

import nexusdata as nd
from nexusdata.sim import Simulator

pytestmark = pytest.mark.timeout(30)


def self_signed(directory: Path, name: str, *names: x509.GeneralName) -> tuple[Path, Path]:
    """A self-signed certificate (its own CA) for ``names``, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"nexusdata test {name}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    directory = tmp_path_factory.mktemp("certs")
    loopback = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    return {
        "loopback": self_signed(directory, "loopback", loopback),
        "other": self_signed(directory, "other", loopback),
        "elsewhere": self_signed(directory, "elsewhere", x509.DNSName("elsewhere.example")),
    }


def wss_sim(cert: tuple[Path, Path]) -> Simulator:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    return Simulator(seed=14, rate=50, ssl_context=context)


@pytest.fixture
def sim(certs: dict[str, tuple[Path, Path]]) -> Iterator[Simulator]:
    with wss_sim(certs["loopback"]) as simulator:
        yield simulator


Collect = Callable[[Simulator, dict[str, Any]], Any]
COLLECTORS: dict[str, Collect] = {
    "nexus": lambda sim, kw: nd.stream_depth("BTCUSDT", **{"seconds": 10, "max_messages": 3, **sim.nexus, **kw}),
    "chainext": lambda sim, kw: nd.collect_index("coin_index", "1", **{"seconds": 10, "max_messages": 3, **sim.chainext, **kw}),
}


@pytest.mark.timeout(120)  # a client that retried would give up only after giving_up() seconds
@pytest.mark.parametrize("feed", COLLECTORS)
def test_self_signed_certificate_is_refused_at_once(sim: Simulator, feed: str, no_thread_leak: None) -> None:
    assert sim.nexus_url.startswith("wss://") and sim.chainext_url.startswith("wss://")
    # At once: given a minute, it raises well before the default reconnects could have given up
    # (the gap log below shows the single attempt).
    with well_before(giving_up()), pytest.raises(nd.ConnectionFailedError) as refused:
        COLLECTORS[feed](sim, {"seconds": 60})
    message = str(refused.value)
    assert "certificate" in message and "self-signed" in message and "ca_file=" in message
    assert sim.token not in message and sim.api_secret not in message
    gaps = nd.gap_log(refused.value)
    assert list(gaps["event"]) == ["connect_failed"] and "certificate was refused (self-signed" in gaps["reason"].iloc[0]
    assert sim.connections_total == 0 and refused.value.frame.empty


@pytest.mark.parametrize("feed", COLLECTORS)
def test_ca_file_makes_it_trusted(sim: Simulator, certs: dict[str, tuple[Path, Path]], feed: str) -> None:
    df = COLLECTORS[feed](sim, {"ca_file": str(certs["loopback"][0])})
    assert df["received_at"].nunique() == 3 and sim.connections_total == 1


@pytest.mark.parametrize(
    "served, trusted, reason",
    [("other", "loopback", "self-signed"), ("elsewhere", "elsewhere", "mismatch")],
    ids=["another_ca", "wrong_host"],
)
def test_a_certificate_the_bundle_does_not_vouch_for_is_refused(
    certs: dict[str, tuple[Path, Path]], served: str, trusted: str, reason: str
) -> None:
    with wss_sim(certs[served]) as sim:
        with pytest.raises(nd.ConnectionFailedError) as refused:
            COLLECTORS["nexus"](sim, {"ca_file": str(certs[trusted][0])})
        assert sim.connections_total == 0
    assert reason in str(refused.value) and len(nd.gap_log(refused.value)) == 1


def test_plain_ws_client_options_do_not_touch_tls(certs: dict[str, tuple[Path, Path]]) -> None:
    """``ca_file`` is harmless on ``ws://`` (the simulator's default), so one set of options
    serves both."""
    with Simulator(seed=15, rate=50) as sim:
        df = COLLECTORS["nexus"](sim, {"ca_file": str(certs["loopback"][0])})
    assert df["received_at"].nunique() == 3
