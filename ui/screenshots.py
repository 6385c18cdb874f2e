"""PNG screenshots of every view of the ops UI, for reviewers (`make ui-screenshots`).

    python ui/screenshots.py --out docs/screenshots                 # spawns a gateway
    python ui/screenshots.py --url http://127.0.0.1:8080 --token T  # a running gateway

Without --url it starts `switchyard run` in a temporary data dir with simulated liquidity,
trades a little (fills, a resting order, a cancel) and keeps a light order flow going while
the dashboard fills up. Against a running gateway it signs in with --token (or
$SWITCHYARD_TOKEN, else the gateway's dev sign-in). Each view is taken at laptop size (dark
theme) and phone size (light theme). Uses Debian's Chromium, never a downloaded browser.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM = os.environ.get("SWITCHYARD_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWS = ("dashboard", "trading", "strategy", "audit")
SIZES = {
    "laptop": ({"width": 1440, "height": 1000}, "dark"),
    "phone": ({"width": 390, "height": 844}, "light"),
}
DASHBOARD_WARMUP_S = 3  # before the browser opens; the dashboard then fills for DASHBOARD_FILL
DASHBOARD_FILL = 40  # snapshots (seconds) on the dashboard's charts before its screenshot


def _call(url: str, token: str, method: str = "GET", body: object = None) -> dict[str, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - our gateway
    request.add_header("authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            result: dict[str, object] = json.loads(answer.read() or b"{}")
            return result
    except urllib.error.HTTPError as error:
        result = json.loads(error.read() or b"{}")
        return result


def _dev_token(url: str) -> str:
    request = urllib.request.Request(  # noqa: S310
        f"{url}/ui/api/dev-sign-in",
        data=json.dumps({"accountId": "alice"}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
        return str(json.loads(answer.read())["token"])


def _seed_orders(url: str, token: str) -> str:
    """A filled order, a resting one, a canceled one; returns the filled order's id."""
    book = _call(f"{url}/market/7203/book?depth=1", token)
    ask = book["asks"][0]["price"]  # type: ignore[index]
    bid = book["bids"][0]["price"]  # type: ignore[index]
    stamp = int(time.time() * 1000)  # noqa: TID251 - a unique id, not a clock

    def order(side: str, price: int, suffix: str) -> str:
        body = {"symbol": "7203", "side": side, "type": "LIMIT", "qty": 100, "price": price}
        answer = _call(
            f"{url}/orders", token, "POST", {**body, "clientOrderId": f"shot-{stamp}-{suffix}"}
        )
        return str(answer.get("orderId"))

    filled = order("BUY", ask, "fill")
    order("BUY", bid - 40, "rest")
    canceled = order("SELL", ask + 60, "cancel")
    time.sleep(0.5)
    _call(f"{url}/orders/{canceled}/cancel", token, "POST")
    return filled


@contextlib.contextmanager
def _order_flow(url: str, token: str) -> Iterator[None]:
    """About 40 small orders a second (far from the market on BTC) so the charts move."""
    stop = threading.Event()

    def run() -> None:
        index = 0
        while not stop.is_set():
            body = {"symbol": "BTC", "side": "BUY", "type": "LIMIT", "qty": 1, "price": 60_000}
            body["clientOrderId"] = f"flow-{os.getpid()}-{index}"
            answer = _call(f"{url}/orders", token, "POST", body)
            if index % 2 and "orderId" in answer:
                _call(f"{url}/orders/{answer['orderId']}/cancel", token, "POST")
            index += 1
            time.sleep(0.025)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _prepare(page: Page, view: str, order_id: str) -> None:
    if view == "dashboard":
        page.wait_for_function(
            "(n) => Number(document.querySelector('#dash-kpis').dataset.snapshots || 0) > n",
            arg=DASHBOARD_FILL,
            timeout=(DASHBOARD_FILL + 20) * 1000,
        )
    elif view == "trading":
        page.wait_for_selector("#book-body tr.bid")
        page.wait_for_selector("#blotter-body tr")
        page.wait_for_timeout(1500)
    elif view == "strategy":
        page.wait_for_timeout(800)
    elif view == "audit":
        page.click("#verify-run")
        page.wait_for_selector("#verify-status[data-ok]")
        page.fill("#trail-order", order_id)
        page.click("#trail-form button[type=submit]")
        page.wait_for_selector("#trail-body tr")


def shoot(url: str, token: str, out: Path, order_id: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for size, (viewport, scheme) in SIZES.items():
            context = browser.new_context(viewport=viewport, color_scheme=scheme)  # type: ignore[arg-type]
            context.add_init_script(
                f"sessionStorage.setItem('switchyard.token', {json.dumps(token)});"
                "sessionStorage.setItem('switchyard.symbol', '7203');"  # where we traded
            )
            page = context.new_page()
            for view in VIEWS:
                page.goto(f"{url}/#/{view}")
                page.wait_for_selector(f"#view-{view}:not([hidden])")
                _prepare(page, view, order_id)
                path = out / (f"{view}.png" if size == "laptop" else f"{view}-{size}.png")
                page.screenshot(path=str(path), full_page=True)
                written.append(path)
            context.close()
        browser.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url", help="a running gateway (default: spawn one with simulated liquidity)"
    )
    parser.add_argument("--token", default=os.environ.get("SWITCHYARD_TOKEN", ""))
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    if args.url:
        url = args.url.rstrip("/")
        token = args.token or _dev_token(url)
        order_id = _seed_orders(url, token)
        with _order_flow(url, token):
            time.sleep(DASHBOARD_WARMUP_S)
            written = shoot(url, token, args.out, order_id)
    else:
        from switchyard.testing.gateway_harness import GatewayProcess

        with (
            tempfile.TemporaryDirectory() as data_dir,
            GatewayProcess(Path(data_dir), env={"VENUE_LIQUIDITY": "1"}) as gateway,
        ):
            url = f"http://127.0.0.1:{gateway.port}"
            token = gateway.token("alice")
            order_id = _seed_orders(url, token)
            with _order_flow(url, gateway.token("flow")):  # another account: a readable blotter
                time.sleep(DASHBOARD_WARMUP_S)
                written = shoot(url, token, args.out, order_id)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
