"""Host header attacks and ``TRUSTED_HOSTS``.

``TRUSTED_HOSTS`` (comma-separated; unset means any host, Flask's default) is
handed to Flask 3.1, which answers 400 to a request whose ``Host`` is not in the
list (``.example.org`` also admits its subdomains; the port is not compared).
The 400 is the one JSON error shape, ``no-store``, never cached, and the next
clean request is served as before: a forged Host can neither reach a view nor
plant an entry. Catalogue rows 32-33.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, load_config
from tests.attacks.conftest import Site, start_site
from tests.attacks.raw_http import RawReply, raw_request
from tests.faults.harness import POSTS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        (" , ", None),
        ("api.example.com", ["api.example.com"]),
        (" API.example.com , .example.org ", ["api.example.com", ".example.org"]),
        ("localhost,127.0.0.1", ["localhost", "127.0.0.1"]),
    ],
)
def test_trusted_hosts_setting(raw: str | None, expected: list[str] | None) -> None:
    env = {} if raw is None else {"TRUSTED_HOSTS": raw}
    assert load_config(env)["TRUSTED_HOSTS"] == expected


@pytest.mark.parametrize("raw", ["https://api.example.com", "api.example.com/x", "a b", "."])
def test_trusted_hosts_refuses_urls_and_garbage(raw: str) -> None:
    with pytest.raises(ConfigError, match="TRUSTED_HOSTS"):
        load_config({"TRUSTED_HOSTS": raw})


def test_in_process_a_host_outside_the_list_is_400_and_never_cached(make_app: Any) -> None:
    app = make_app(TRUSTED_HOSTS=["api.example.com", ".example.org"])
    client = app.test_client()
    good = client.get(POSTS, headers={"Host": "api.example.com"})
    again = client.get(POSTS, headers={"Host": "www.example.org:8443"})
    evil = client.get(POSTS, headers={"Host": "evil.example"})
    assert good.status_code == again.status_code == 200
    assert again.headers["X-Cache"] == "HIT"
    assert evil.status_code == 400
    assert evil.get_json()["status"] == "error"
    assert evil.headers["Cache-Control"] == "no-store"
    assert evil.headers["X-Cache"] == "BYPASS"


def test_without_the_setting_any_host_is_served(make_app: Any) -> None:
    client = make_app().test_client()
    assert client.get(POSTS, headers={"Host": "anything.example"}).status_code == 200


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, attack_seed: Path) -> Iterator[Site]:
    started = start_site(
        tmp_path_factory.mktemp("trusted"), attack_seed, TRUSTED_HOSTS="127.0.0.1,localhost"
    )
    yield started
    started.stop()


@pytest.mark.parametrize(
    "headers",
    [
        [("Host", "evil.example")],
        [("Host", "evil.example:80")],
        [("Host", "127.0.0.1.evil.example")],
        [("Host", "localhost@evil.example")],
    ],
    ids=["other-host", "other-host-port", "suffix-trick", "userinfo-trick"],
)
def test_under_gunicorn_a_forged_host_is_refused_and_poisons_nothing(
    guarded: Site, headers: list[tuple[str, str]], reliability_case: Any
) -> None:
    port = guarded.server.port
    raw_request(port, "GET", POSTS)
    before = raw_request(port, "GET", POSTS)
    forged = raw_request(port, "GET", POSTS, headers)
    after = raw_request(port, "GET", POSTS)
    reliability_case.record(
        case=f"host-outside-trusted-hosts-{headers[0][1]}",
        fault=f"GET {POSTS} with Host: {headers[0][1]} (TRUSTED_HOSTS=127.0.0.1,localhost)",
        behaviour=f"{forged.status} {forged.headers.get('cache-control')}; the next clean "
        f"request was {after.status} {after.x_cache} with the same body as before",
        catalogue=(33,),
        status=forged.status,
        follow_up=after.status,
        poisoned=int(after.body != before.body),
    )
    assert forged.status == 400
    assert b'"status":"error"' in forged.body and b"evil" not in forged.body
    assert forged.headers.get("cache-control") == "no-store"
    assert after.status == 200 and after.x_cache == "HIT"
    assert after.body == before.body


def test_under_gunicorn_two_host_headers_are_refused(guarded: Site) -> None:
    port = guarded.server.port
    twice = [("Host", f"127.0.0.1:{port}"), ("Host", "evil.example")]
    reply: RawReply = raw_request(port, "GET", POSTS, twice)
    assert reply.status == 400
