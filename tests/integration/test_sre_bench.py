"""`switchyard bench` against real servers over loopback: the fake gateway (with and without
injected faults), the constant-202 server, and wrk. Short runs (about a second each)."""

import json

import pytest
from tests.fixtures.sre import run_switchyard

from switchyard.sre import documents, serverside

pytestmark = pytest.mark.integration


def _bench(tmp_path, target, secret, *extra):
    out = tmp_path / "result.json"
    result = run_switchyard(
        "bench",
        "--url",
        target.url,
        "--jwt-secret-file",
        str(secret),
        "--out",
        str(out),
        "--server-label",
        "standin-fake-gateway",
        "--ceiling-file",
        str(tmp_path / "none.json"),
        "--warmup",
        "0",
        *extra,
    )
    assert out.exists(), result.stderr
    return result, json.loads(out.read_text())


def _stats(target):
    import asyncio

    return asyncio.run(serverside.get_json(target, "/stats"))


def test_open_loop_run_delivers_the_asked_load_with_unique_keys(
    tmp_path, sre_fake_gateway, sre_secret_file
):
    target = sre_fake_gateway.target
    before = _stats(target)
    result, document = _bench(
        tmp_path,
        target,
        sre_secret_file,
        "--rate",
        "500",
        "--duration",
        "1",
        "--connections",
        "4",
        "--generator",
        "python",
    )
    after = _stats(target)
    assert result.status == 0, result.stderr
    assert documents.schema_errors(document) == []
    counts = document["counts"]
    assert counts["sent"] == 500
    assert counts["errors"] == 0
    assert counts["dropped"] == 0
    assert 0.9 <= document["rate"]["achievedRatio"] <= 1.1  # a noisy machine may stall the end
    assert document["latencyBasis"] == "intended-send"
    assert document["coordinatedOmissionCorrected"] is True
    # Every order was new to the server: a repeated key would have been an idempotent replay.
    accepted = after["ordersAccepted"] - before["ordersAccepted"]
    canceled = after["ordersCanceled"] - before["ordersCanceled"]
    assert accepted == counts["byKind"]["order"]
    assert canceled + counts["cancelRaces"] == counts["byKind"].get("cancel", 0)
    assert document["server"]["resources"]["source"] == "proc"
    assert document["referencePrices"]["source"] == "book"
    assert "bench steady" in result.stdout


def test_closed_loop_measures_service_time(tmp_path, sre_fake_gateway, sre_secret_file):
    _, document = _bench(
        tmp_path,
        sre_fake_gateway.target,
        sre_secret_file,
        "--mode",
        "closed",
        "--duration",
        "1",
        "--connections",
        "2",
        "--generator",
        "python",
    )
    assert document["mode"] == "closed"
    assert document["latencyBasis"] == "actual-send"
    assert document["rate"]["askedPerSec"] is None
    assert document["counts"]["completed"] > 100
    assert document["counts"]["errors"] == 0


def test_wrk_run_is_recorded_as_wrk_with_unique_keys(tmp_path, sre_fake_gateway, sre_secret_file):
    target = sre_fake_gateway.target
    before = _stats(target)
    result, document = _bench(
        tmp_path,
        target,
        sre_secret_file,
        "--generator",
        "wrk",
        "--duration",
        "1",
        "--connections",
        "8",
    )
    after = _stats(target)
    assert result.status == 0, result.stderr
    assert document["generator"] == "wrk"
    assert document["coordinatedOmissionCorrected"] is False
    counts = document["counts"]
    assert counts["completed"] > 1000
    assert counts["errors"] == 0
    accepted = after["ordersAccepted"] - before["ordersAccepted"]
    canceled = after["ordersCanceled"] - before["ordersCanceled"]
    handled = accepted + canceled + counts["cancelRaces"]
    # wrk stops counting at the deadline: up to one request per connection was answered by the
    # server but not counted. A repeated key would make `accepted` fall short instead.
    assert counts["completed"] <= handled <= counts["completed"] + 8


def test_refusals_are_counted_by_code_and_fail_the_gate(
    tmp_path, sre_faulty_gateway, sre_secret_file
):
    server = sre_faulty_gateway(refuse_every=10)
    _, document = _bench(
        tmp_path,
        server.target,
        sre_secret_file,
        "--rate",
        "400",
        "--duration",
        "1",
        "--generator",
        "python",
    )
    refused = document["counts"]["byError"]["BACKPRESSURE_INFLIGHT"]
    orders = document["counts"]["byKind"]["order"]
    assert refused == pytest.approx(orders / 10, abs=2)
    assert document["counts"]["byStatus"]["503"] == refused
    gate = run_switchyard("gate", "--in", str(tmp_path / "result.json"))
    assert gate.status == 1
    assert "Error rate" in gate.stdout


def test_dropped_connections_count_as_drops_and_fail_the_gate(
    tmp_path, sre_faulty_gateway, sre_secret_file
):
    server = sre_faulty_gateway(drop_every=25)
    _, document = _bench(
        tmp_path,
        server.target,
        sre_secret_file,
        "--rate",
        "400",
        "--duration",
        "1",
        "--generator",
        "python",
    )
    assert document["counts"]["dropped"] > 0
    assert document["counts"]["byError"]["CONNECTION_LOST"] == document["counts"]["dropped"]
    assert document["counts"]["completed"] + document["counts"]["dropped"] == 400
    assert run_switchyard("gate", "--in", str(tmp_path / "result.json")).status == 1


def test_a_stalling_server_is_charged_for_the_requests_it_delayed(
    tmp_path, sre_faulty_gateway, sre_secret_file
):
    # 5 ms per answer on one connection serves 200/s; we ask 400/s for 0.5 s. A closed-loop
    # tool would report ~5 ms; the requests really waited up to ~0.5 s for their turn.
    server = sre_faulty_gateway(delay_us=5000)
    _, document = _bench(
        tmp_path,
        server.target,
        sre_secret_file,
        "--rate",
        "400",
        "--duration",
        "0.5",
        "--connections",
        "1",
        "--generator",
        "python",
        "--profile",
        "steady",
    )
    service = document["serviceTimeUs"]
    latency = document["latencyUs"]
    assert service["p50"] < 50_000
    assert latency["max"] > 200_000
    assert latency["p99"] > 10 * service["p99"]
    assert document["rate"]["achievedRatio"] < 0.8


def test_tool_ceiling_measures_both_generators(tmp_path):
    out = tmp_path / "ceiling.json"
    result = run_switchyard(
        "bench", "--tool-ceiling", "--duration", "1", "--ceiling-step-sec", "0.4", "--out", str(out)
    )
    assert result.status == 0, result.stderr
    document = json.loads(out.read_text())
    ceiling = document["toolCeiling"]
    assert "constant-202" in ceiling["server"]
    assert ceiling["python"]["maxRatePerSec"] > 1000
    assert ceiling["wrk"]["maxRatePerSec"] > 1000
    # How high the open-loop search gets depends on the machine's load (not asserted); that it
    # runs its ladder and reports one of the rates it held (0 if none) is.
    tried = ceiling["python"]["openLoopTried"]
    assert tried[0]["ratePerSec"] == 2500
    held = [step["ratePerSec"] for step in tried if step["held"]]
    assert ceiling["python"]["openLoopMaxRatePerSec"] == (max(held) if held else 0)
    assert document["counts"]["errors"] == 0
