"""Server-side readings: metrics text, book mid prices, /proc process usage."""

import os
import socket

from switchyard.sre import serverside


def test_parse_metrics_keeps_labels():
    text = (
        '# TYPE x_total counter\nx_total{reason="A"} 3\nx_total{reason="B"} 4\n'
        "# TYPE up gauge\nup 1\n"
    )
    assert serverside.parse_metrics(text) == {
        "x_total{reason=A}": 3.0,
        "x_total{reason=B}": 4.0,
        "up": 1.0,
    }


def test_counter_deltas_keep_only_changed_counters():
    before = {"a_total": 1.0, "b_total": 5.0, "g": 3.0}
    after = {"a_total": 4.0, "b_total": 5.0, "g": 9.0, "new_total": 2.0}
    assert serverside.counter_deltas(before, after) == {"a_total": 3.0}


def test_mid_price_from_a_book_and_none_without_quotes():
    book = {
        "symbol": "BTC",
        "seq": 9,
        "bids": [{"price": 99, "qty": 1}],
        "asks": [{"price": 103, "qty": 2}],
    }
    assert serverside._mid_price(book) == 101
    assert serverside._mid_price({"symbol": "BTC", "seq": 9, "bids": [], "asks": []}) is None


def test_listening_pid_finds_this_process():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert serverside.listening_pid(port) == os.getpid()


def test_process_usage_and_delta_of_this_process():
    before = serverside.process_usage(os.getpid())
    sum(i * i for i in range(300_000))  # burn a little CPU
    after = serverside.process_usage(os.getpid())
    delta = serverside.usage_delta(before, after)
    assert delta["source"] == "proc"
    assert delta["cpuSeconds"] >= 0
    assert serverside.usage_delta(None, after)["source"] == "unavailable"


def test_process_usage_includes_children():
    import subprocess
    import sys
    import time

    child = subprocess.Popen([sys.executable, "-c", "sum(i * i for i in range(10**7))"])
    try:
        tree = serverside.process_tree(os.getpid())
        assert tree[0] == os.getpid()
        assert child.pid in tree
        time.sleep(0.05)
    finally:
        child.wait(30)
