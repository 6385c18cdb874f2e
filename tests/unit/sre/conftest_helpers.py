"""Realistic inputs for the SRE unit tests: results written by the real tools.

`data/bench_steady.json` is `switchyard bench --profile steady --rate 1000 --duration 4`
against the fake gateway on a quiet moment; `data/bench_noisy.json` is the same command while
other work shared the machine (a real failing run: p99 11.8 ms, generator send lag 7.7 ms);
`data/canary.json` is `switchyard canary --events 2000 --orders 50`.
Tests copy them and change the numbers they are about.
"""

import copy
import json
from pathlib import Path

DATA = Path(__file__).parent / "data"


def bench_document() -> dict:
    return copy.deepcopy(json.loads((DATA / "bench_steady.json").read_text()))


def noisy_bench_document() -> dict:
    return copy.deepcopy(json.loads((DATA / "bench_noisy.json").read_text()))


def canary_document() -> dict:
    return copy.deepcopy(json.loads((DATA / "canary.json").read_text()))
