"""Fixtures of the hostile-client suite: one production-like gateway per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from switchyard.testing.gateway_harness import GatewayProcess
from tests.security.helpers import GATEWAY_ENV, start_backoffice


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with GatewayProcess(tmp_path_factory.mktemp("hostile"), env=GATEWAY_ENV) as running:
        yield running


@pytest.fixture(scope="module")
def backoffice(
    gateway: GatewayProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """`switchyard backoffice` tailing the module's gateway WAL (SQLite)."""
    process = start_backoffice(gateway, tmp_path_factory.mktemp("bo") / "backoffice.db")
    yield process
    process.stop()
