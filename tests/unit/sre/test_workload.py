"""RequestFactory: every request is a complete, well-formed, uniquely keyed HTTP request."""

import random
import time
from collections import Counter

import httptools
import jwt
import orjson
import pytest

from switchyard.sre import tokens
from switchyard.sre.profiles import load_profile
from switchyard.sre.workload import KIND_CANCEL, KIND_ORDER, RequestFactory, lot_size

SECRET = tokens.JWTSecret(b"k" * 32, "test")


class _Parsed:
    def __init__(self, data: bytes) -> None:
        self.headers: dict[str, str] = {}
        self.body = b""
        self.url = b""
        parser = httptools.HttpRequestParser(self)
        parser.feed_data(data)
        self.method = parser.get_method()

    def on_url(self, url):
        self.url += url

    def on_header(self, name, value):
        self.headers[name.decode().lower()] = value.decode()

    def on_body(self, body):
        self.body += body


def _factory(profile_name="steady", seed=7, **overrides):
    profile = load_profile(profile_name).with_overrides(**overrides)
    account_tokens = tokens.mint_tokens(
        SECRET, tokens.account_ids(profile.accounts), int(time.time()), 60
    )
    return profile, RequestFactory(
        profile, account_tokens, b"127.0.0.1:8080", "run1", random.Random(seed), {"BTC": 6_000_000}
    )


def test_orders_are_valid_http_with_json_bodies_and_unique_keys():
    profile, factory = _factory()
    keys = set()
    for _ in range(2000):
        planned = factory.next_request()
        assert planned.kind == KIND_ORDER  # no order accepted yet: nothing to cancel
        request = _Parsed(planned.data)
        assert request.method == b"POST"
        assert request.url == b"/orders"
        order = orjson.loads(request.body)
        assert int(request.headers["content-length"]) == len(request.body)
        assert request.headers["idempotency-key"] == order["clientOrderId"]
        keys.add(order["clientOrderId"])
        assert order["side"] in ("BUY", "SELL")
        lot = lot_size(order["symbol"])
        assert order["qty"] % lot == 0  # the venue refuses a quantity off its trading unit
        assert profile.qty_min <= order["qty"] // lot <= profile.qty_max
        if order["type"] == "LIMIT":
            assert isinstance(order["price"], int)
            assert order["price"] > 0
        else:
            assert "price" not in order
    assert len(keys) == 2000


def test_token_names_the_account_and_verifies_with_the_secret():
    _, factory = _factory()
    request = _Parsed(factory.next_request().data)
    token = request.headers["authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, SECRET.value, algorithms=["HS256"])
    assert claims["accountId"] == claims["sub"]
    assert claims["accountId"].startswith("bench-")


def test_symbol_choice_follows_the_profile_weights():
    _, factory = _factory("skew")
    counts = Counter(
        orjson.loads(_Parsed(factory.next_request().data).body)["symbol"] for _ in range(5000)
    )
    assert counts["BTC"] / 5000 == pytest.approx(0.70, abs=0.03)
    assert counts["9984"] / 5000 == pytest.approx(0.02, abs=0.01)


def test_ioc_orders_cross_the_reference_price():
    _, factory = _factory()
    for _ in range(3000):
        order = orjson.loads(_Parsed(factory.next_request().data).body)
        if order["symbol"] == "BTC" and order.get("timeInForce") == "IOC" and "price" in order:
            if order["side"] == "BUY":
                assert order["price"] > 6_000_000
            else:
                assert order["price"] < 6_000_000


def test_cancels_target_an_accepted_order_of_the_same_account():
    _, factory = _factory()
    first = factory.next_request()
    factory.on_accepted(first.account_index, b'{"orderId":"e1-abc-42","status":"ACCEPTED"}')
    cancels = []
    for _ in range(400):
        planned = factory.next_request()
        if planned.kind == KIND_CANCEL:
            cancels.append(planned)
    assert len(cancels) == 1  # one accepted order: exactly one cancel, never twice
    assert cancels[0].account_index == first.account_index
    assert _Parsed(cancels[0].data).url == b"/orders/e1-abc-42/cancel"


def test_durable_profiles_ask_for_durable_acks():
    _, factory = _factory(ack_mode="durable")
    assert _Parsed(factory.next_request().data).url == b"/orders?ack=durable"


def test_same_seed_same_requests():
    _, first = _factory(seed=3)
    _, second = _factory(seed=3)
    assert [first.next_request().data for _ in range(50)] == [
        second.next_request().data for _ in range(50)
    ]


def test_tokyo_equities_trade_in_100_share_lots():
    assert lot_size("7203") == 100
    assert lot_size("BTC") == 1
    assert lot_size("UNKNOWN") == 1
