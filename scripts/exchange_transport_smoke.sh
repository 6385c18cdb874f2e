#!/usr/bin/env bash
# Compare accept -> fill latency of the in-process venue (sim) and the TCP venue (tcp), as the
# seed's README describes: `scripts/exchange_transport_smoke.sh sim|tcp [ORDERS]`.
# Results: bench/results/transport-<sim|tcp>.json (and a summary on stdout).
set -euo pipefail
cd "$(dirname "$0")/.."
transport="${1:?usage: $0 sim|tcp [orders]}"
orders="${2:-200}"
.venv/bin/python -m bench.gateway.transport_smoke --transport "$transport" --orders "$orders" \
    --out "bench/results/transport-${transport}.json"
