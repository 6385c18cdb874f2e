"""The deterministic simulation of the whole system (switchyard.testing.sim), seed by seed.

The default suite runs a fixed set of seeds (6 virtual seconds of load each, with gateway
crashes, power cuts and fsync errors, outbox and back office crashes, broker faults);
`make sim SEEDS=N` runs N more (`-m sim_full`, seeds from SIM_SEED_BASE; make picks and
prints a new base each run; each seed's figures go to $RELIABILITY_FIGURES when set). A failure names its seed; replay it with
`SIM_SEED=<seed> pytest tests/sim/test_system_sim.py -k replay` or
`python -m switchyard.testing.sim --seed <seed>`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
from pathlib import Path

import pytest

from switchyard.testing.sim import SimConfig, run_seed

CI_SEEDS = [11, 23, 37, 41, 59, 73, 89, 97]
CI_CONFIG = SimConfig(duration_s=6.0)


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_simulation_keeps_every_promise(seed: int) -> None:
    figures = run_seed(seed, CI_CONFIG)
    # the run really exercised what the checkers judge
    assert figures.restarts == CI_CONFIG.gateway_faults
    assert figures.durable_acks > 100
    assert figures.fills > 50
    assert figures.broker_duplicates > 0
    assert figures.backoffice_applied > figures.records


def test_simulation_is_deterministic() -> None:
    assert run_seed(CI_SEEDS[0], CI_CONFIG) == run_seed(CI_SEEDS[0], CI_CONFIG)


def _full_seeds() -> list[int]:
    count = int(os.environ.get("SIM_SEEDS", "200"))
    base = int(os.environ.get("SIM_SEED_BASE", str(random.SystemRandom().randrange(10**9))))
    return list(range(base, base + count))


@pytest.mark.sim_full
@pytest.mark.parametrize("seed", _full_seeds() if os.environ.get("SIM_FULL") else [0])
def test_simulation_many_seeds(seed: int) -> None:
    if not os.environ.get("SIM_FULL"):
        pytest.skip("set SIM_FULL=1 (make sim SEEDS=N does)")
    figures = run_seed(seed, SimConfig(duration_s=float(os.environ.get("SIM_DURATION_S", "10"))))
    if os.environ.get("RELIABILITY_FIGURES"):
        figures_file = Path(os.environ["RELIABILITY_FIGURES"])
        figures_file.parent.mkdir(
            parents=True, exist_ok=True
        )  # a fresh clone has no test-artifacts/
        with figures_file.open("a") as handle:
            handle.write(json.dumps({"sim": {"seed": seed, **dataclasses.asdict(figures)}}) + "\n")


@pytest.mark.skipif("SIM_SEED" not in os.environ, reason="set SIM_SEED to replay one seed")
def test_replay() -> None:
    print(
        run_seed(
            int(os.environ["SIM_SEED"]),
            SimConfig(
                duration_s=float(os.environ.get("SIM_DURATION_S", str(CI_CONFIG.duration_s)))
            ),
        )
    )
