"""Ownership settings: the mode follows what is set; bad values name the variable."""

from __future__ import annotations

import pytest

from switchyard.core.env import ConfigError
from switchyard.ownership.settings import OwnershipSettings, default_engine_url


def settings(**environ: str) -> OwnershipSettings:
    return OwnershipSettings.from_env(environ, engine_id="e1")


def test_mode_all_without_etcd_or_owned_keys() -> None:
    assert settings().mode == "all"


def test_mode_static_with_owned_keys_only() -> None:
    s = settings(OWNED_KEYS="BTC, ETH")
    assert s.mode == "static"
    assert s.owned_keys == ("BTC", "ETH")


def test_mode_etcd_wins_over_owned_keys() -> None:
    s = settings(ETCD_ENDPOINTS="http://127.0.0.1:2379,http://10.0.0.2:2379", OWNED_KEYS="BTC")
    assert s.mode == "etcd"
    assert s.endpoints == ("http://127.0.0.1:2379", "http://10.0.0.2:2379")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ETCD_ENDPOINTS", "https://127.0.0.1:2379"),
        ("ETCD_ENDPOINTS", "127.0.0.1:2379"),
        ("ETCD_ENDPOINTS", "http://h:notaport"),
        ("ETCD_LEASE_TTL_SEC", "1"),
        ("ENGINE_POLL_MS", "5"),
        ("ETCD_PREFIX", "switchyard"),
        ("ETCD_PREFIX", "/switchyard/"),
        ("ENGINE_URL", "ftp://x"),
        ("OWNERSHIP_ON_ETCD_LOSS", "panic"),
        ("OWNED_KEYS", "BTC,BTC"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        settings(**{name: value})


@pytest.mark.parametrize("ttl", [2, 3, 5, 10, 15, 30, 60, 120, 300])
def test_timing_relations_hold_for_every_ttl(ttl: int) -> None:
    s = settings(ETCD_ENDPOINTS="http://127.0.0.1:2379", ETCD_LEASE_TTL_SEC=str(ttl))
    ttl_ns = ttl * 1_000_000_000
    assert s.request_timeout_s < s.keepalive_interval_s
    # an outage seen from the last keep-alive round cannot look like isolation (settings)
    assert ttl_ns - s.deadline_margin_ns - 2 * s.etcd_fresh_ns - s.probe_lead_ns > 0
    assert s.deadline_margin_ns < ttl_ns


def test_engine_url_defaults_to_gateway_host_and_port() -> None:
    assert default_engine_url({"GATEWAY_HOST": "10.1.2.3", "GATEWAY_PORT": "9000"}) == (
        "http://10.1.2.3:9000"
    )


def test_engine_url_for_a_wildcard_host_uses_the_host_name() -> None:
    url = default_engine_url({"GATEWAY_HOST": "0.0.0.0", "GATEWAY_PORT": "8080"})
    assert url.startswith("http://")
    assert "0.0.0.0" not in url


def test_engine_url_setting_wins_and_loses_its_trailing_slash() -> None:
    assert settings(ENGINE_URL="http://gw-2.internal:8080/").engine_url == (
        "http://gw-2.internal:8080"
    )
