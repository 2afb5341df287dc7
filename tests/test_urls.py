"""Endpoint URLs: the Nexus realtime path and token, redaction, and ws:// checks."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from nexusdata.errors import ArgumentError, NexusDataError
from nexusdata.protocol import urls

TOKEN = "WHZWUFAxWlV0bzdMMzl5N1dmYy1z"  # the document's example token
DOC_URL = f"wss://demo.nexus.com:444/api/realtime?X-API-TOKEN={TOKEN}"


def query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


# --- nexus_url -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base",
    [
        "wss://demo.nexus.com:444",
        "wss://demo.nexus.com:444/",
        "wss://demo.nexus.com:444/api/realtime",
        "wss://demo.nexus.com:444/api/realtime/",
    ],
)
def test_nexus_url_adds_the_path_only_when_missing(base):
    assert urls.nexus_url(base, TOKEN) == DOC_URL


def test_nexus_url_uat_endpoint():
    assert urls.nexus_url("wss://uat.smartcrypto.cc:444", "tok") == "wss://uat.smartcrypto.cc:444/api/realtime?X-API-TOKEN=tok"


@pytest.mark.parametrize("path", ["/custom", "/ws/v2", "/realtime"])
def test_nexus_url_keeps_another_path(path):
    url = urls.nexus_url(f"ws://127.0.0.1:8765{path}", "tok")
    assert urlsplit(url).path == path
    assert "/api/realtime" not in url


def test_nexus_url_replaces_an_existing_token():
    url = urls.nexus_url(DOC_URL, "new-token")
    assert query(url) == [("X-API-TOKEN", "new-token")]
    assert TOKEN not in url
    assert urlsplit(url).path == "/api/realtime"


def test_nexus_url_keeps_other_query_params():
    url = urls.nexus_url("wss://h:444/api/realtime?a=1&X-API-TOKEN=old&b=&c=x%20y&a=2", "tok")
    assert query(url) == [("a", "1"), ("b", ""), ("c", "x y"), ("a", "2"), ("X-API-TOKEN", "tok")]
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("wss", "h:444", "/api/realtime")


def test_nexus_url_encodes_a_token_with_special_characters():
    token = "a+b/c=d&e f%"
    url = urls.nexus_url("ws://localhost:1", token)
    assert query(url) == [("X-API-TOKEN", token)]
    assert url.count("&") == 0  # the & in the token does not start a new parameter


# --- redact --------------------------------------------------------------------------------------


def test_redact_masks_the_token():
    assert urls.redact(DOC_URL) == "wss://demo.nexus.com:444/api/realtime?X-API-TOKEN=***"


@pytest.mark.parametrize(
    "url, expected",
    [
        (f"wss://h/?a=1&X-API-TOKEN={TOKEN}&b=2", "wss://h/?a=1&X-API-TOKEN=***&b=2"),
        (f"wss://h/?x-api-token={TOKEN}", "wss://h/?x-api-token=***"),
        (f"wss://h/?X-API-TOKEN={TOKEN}#frag", "wss://h/?X-API-TOKEN=***#frag"),
        (f"wss://h/?token={TOKEN}&apiKey=k&signature=s&secret=z", "wss://h/?token=***&apiKey=***&signature=***&secret=***"),
        ("wss://h/?a=1", "wss://h/?a=1"),
        ("no url at all", "no url at all"),
    ],
)
def test_redact_cases(url, expected):
    assert urls.redact(url) == expected


def test_redact_of_a_built_url_hides_an_encoded_token():
    token = "p@ss/w+rd=="
    url = urls.nexus_url("wss://h:1", token)
    red = urls.redact(url)
    assert red == "wss://h:1/api/realtime?X-API-TOKEN=***"
    assert "p%40ss" not in red and token not in red


def test_redact_inside_a_message():
    text = f"could not connect to {DOC_URL}: timed out"
    red = urls.redact(text)
    assert red.startswith("could not connect to wss://demo.nexus.com:444/api/realtime?X-API-TOKEN=***")
    assert TOKEN not in red
    # the token of a URL quoted in a longer text is hidden, and so is a text around several of them
    assert TOKEN not in urls.redact(f"'{DOC_URL}' then {DOC_URL}&x=1 and ?token={TOKEN}")


# --- check_ws_url --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ws://127.0.0.1:8765",
        "wss://vipapi.chainext.cn/websocket",
        "wss://vipapi.chainext.io/websocket",
        "wss://uat.smartcrypto.cc:444",
        DOC_URL,
        "ws://[::1]:9000/x",
        "ws://localhost",
    ],
)
def test_check_ws_url_accepts_ws_and_wss(url):
    assert urls.check_ws_url(url) == url


def test_check_ws_url_strips_surrounding_space():
    assert urls.check_ws_url("  ws://localhost:1/ \n") == "ws://localhost:1/"


BAD = [
    "http://demo.nexus.com:444/api/realtime",
    "https://vipapi.chainext.io/websocket",
    "ftp://host",
    "demo.nexus.com:444",
    "",
    "   ",
    None,
    42,
    b"wss://host",
    "wss://",
    "ws:///path",
    "wss://:444",
    "wss://host:abc",
    "wss://host:99999",
    "wss://host:-1",
]


@pytest.mark.parametrize("url", BAD, ids=repr)
def test_check_ws_url_rejects(url):
    with pytest.raises(ArgumentError) as info:
        urls.check_ws_url(url)
    assert isinstance(info.value, ValueError) and isinstance(info.value, NexusDataError)
    assert "url" in str(info.value)


@pytest.mark.parametrize("url", [u for u in BAD if isinstance(u, str) and u.strip()], ids=repr)
def test_check_ws_url_error_names_the_argument_and_hides_the_token(url):
    sep = "&" if "?" in url else "/?"
    with_token = f"{url}{sep}X-API-TOKEN={TOKEN}"
    with pytest.raises(ValueError) as info:
        urls.check_ws_url(with_token, argument="nexus_url")
    message = str(info.value)
    assert "nexus_url" in message
    assert TOKEN not in message and TOKEN not in repr(info.value)


@pytest.mark.parametrize("url", ["ws://[::1", f"wss://[not-an-ip]:444/?X-API-TOKEN={TOKEN}"])
def test_check_ws_url_rejects_a_bad_bracketed_host_with_an_argument_error(url):
    with pytest.raises(ArgumentError, match="nexus_url"):
        urls.check_ws_url(url, argument="nexus_url")
