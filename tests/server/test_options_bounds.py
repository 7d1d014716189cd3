"""A1111 options are kept per identity in memory, so they are bounded: keys, bytes and identities."""

from __future__ import annotations

import httpx
import pytest

from pixelforge.server.options import MAX_KEYS, MAX_OPTION_BYTES, ClientOptions, OptionsRefused


@pytest.fixture
def fresh(bob: httpx.Client) -> httpx.Client:
    """bob, with the options this test sets cleared afterwards (they would leak into other tests)."""
    yield bob
    bob.post("/sdapi/v1/options", json={f"k{n}": None for n in range(MAX_KEYS)})


def test_too_many_keys_or_bytes_are_refused_and_what_was_set_stays(fresh: httpx.Client) -> None:
    assert fresh.post("/sdapi/v1/options", json={"k0": "kept"}).status_code == 200
    many = fresh.post("/sdapi/v1/options", json={f"x{n}": n for n in range(MAX_KEYS + 1)})
    assert many.status_code == 422 and str(MAX_KEYS) in many.json()["message"]
    big = fresh.post("/sdapi/v1/options", json={"k1": "x" * (MAX_OPTION_BYTES + 1)})
    assert big.status_code == 422 and str(MAX_OPTION_BYTES) in big.json()["message"]
    options = fresh.get("/sdapi/v1/options").json()
    assert options["k0"] == "kept" and "k1" not in options and "x0" not in options


def test_null_removes_an_option(fresh: httpx.Client) -> None:
    fresh.post("/sdapi/v1/options", json={"k2": 5})
    assert fresh.get("/sdapi/v1/options").json()["k2"] == 5
    assert fresh.post("/sdapi/v1/options", json={"k2": None}).json() is None
    assert "k2" not in fresh.get("/sdapi/v1/options").json()


def test_identities_beyond_the_cap_evict_the_least_recently_set() -> None:
    options = ClientOptions(max_identities=2)
    options.update("a", {"x": 1})
    options.update("b", {"x": 2})
    options.update("a", {"y": 3})
    options.update("c", {"x": 4})
    assert options.get("b") == {} and options.get("a") == {"x": 1, "y": 3} and options.get("c") == {"x": 4}
    with pytest.raises(OptionsRefused):
        options.update("a", {"long" * 40: 1})
