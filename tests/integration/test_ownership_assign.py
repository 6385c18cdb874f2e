"""`switchyard assign` against a real etcd and two live coordinators: show, pin, add, remove."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import pytest
from tests.fixtures.etcd import EtcdServer
from tests.integration.test_ownership_coordinator import KEYS, engines, split_exactly, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.services]


async def assign(etcd: EtcdServer, prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "switchyard",
        "assign",
        "--endpoints",
        etcd.endpoint,
        "--prefix",
        prefix,
        *args,
    ]
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=30, check=False
    )


async def show(etcd: EtcdServer, prefix: str) -> dict[str, Any]:
    done = await assign(etcd, prefix, "--json")
    assert done.returncode == 0, done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown


@pytest.mark.asyncio
async def test_show_lists_engines_keys_and_the_revision(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    async with engines(etcd_server.endpoint, etcd_prefix, "e1", "e2") as group:
        await wait_until(
            lambda: split_exactly(group) and all(e.serving for e in group), 10, "split"
        )
        shown = await show(etcd_server, etcd_prefix)
        assert shown["revision"] == group[0].table.revision
        assert sorted(shown["engines"]) == ["e1", "e2"]
        assert all(info["ackedRevision"] == shown["revision"] for info in shown["engines"].values())
        owners = {key: entry["owner"] for key, entry in shown["keys"].items()}
        assert owners == {key: next(e.name for e in group if key in e.serving) for key in KEYS}
        assert shown["leader"] in ("e1", "e2")
        text = await assign(etcd_server, etcd_prefix)
        assert f"assignment revision {shown['revision']}" in text.stdout


@pytest.mark.asyncio
async def test_pin_moves_a_key_and_unpin_moves_it_back(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    async with engines(etcd_server.endpoint, etcd_prefix, "e1", "e2") as group:
        await wait_until(
            lambda: split_exactly(group) and all(e.serving for e in group), 10, "split"
        )
        natural = next(e for e in group if "K00" in e.serving)
        other = next(e for e in group if e is not natural)
        done = await assign(etcd_server, etcd_prefix, "--pin", f"K00={other.name}")
        assert done.stdout.strip() == f"pinned K00 to {other.name}"
        await wait_until(lambda: "K00" in other.serving and split_exactly(group), 10, "pinned")
        shown = await show(etcd_server, etcd_prefix)
        assert shown["keys"]["K00"] == {"owner": other.name, "pinnedTo": other.name}
        await assign(etcd_server, etcd_prefix, "--unpin", "K00")
        await wait_until(lambda: "K00" in natural.serving and split_exactly(group), 10, "unpinned")


@pytest.mark.asyncio
async def test_add_and_remove_keys(etcd_server: EtcdServer, etcd_prefix: str) -> None:
    async with engines(etcd_server.endpoint, etcd_prefix, "e1", "e2") as group:
        await wait_until(
            lambda: split_exactly(group) and all(e.serving for e in group), 10, "split"
        )
        done = await assign(etcd_server, etcd_prefix, "--add", "NEW1,NEW2")
        assert done.stdout.splitlines() == ["added NEW1", "added NEW2"]
        await wait_until(lambda: split_exactly(group, (*KEYS, "NEW1", "NEW2")), 10, "added")
        await assign(etcd_server, etcd_prefix, "--remove", "NEW1")
        await wait_until(lambda: split_exactly(group, (*KEYS, "NEW2")), 10, "removed")


@pytest.mark.asyncio
async def test_bad_arguments_and_no_etcd_are_refused(etcd_prefix: str) -> None:
    bad = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "switchyard", "assign", "--pin", "BTC"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin", "ETCD_ENDPOINTS": "http://127.0.0.1:1"},
    )
    assert bad.returncode == 2
    assert "KEY=ENGINE" in bad.stderr
    down = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "switchyard", "assign", "--endpoints", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert down.returncode == 1
    assert "etcd" in down.stderr
