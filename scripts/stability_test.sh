#!/usr/bin/env bash
# Stability (soak) test: steady open-loop load on the gateway for a long time, the server's
# /stats, RSS and CPU sampled alongside, then a verdict with its numbers (the seed's
# scripts/tools/stability_test.sh, with the log path fixed and a memory criterion added).
#
# Environment (the seed's names first; short aliases in brackets):
#   TEST_DURATION_MINUTES [DURATION_SEC for seconds]  default 60 minutes
#   REQUEST_RATE_PER_SEC  [RATE]                      default 100 orders/s
#   STATS_INTERVAL_SEC                                default 10 s
#   GATEWAY_URL           [APP_URL]                   default http://127.0.0.1:8080
#   SPAWN                 gateway | standin-gateway   start the server here (default: use GATEWAY_URL)
#   PROFILE               bench profile               default steady
#   LOG_DIR                                           default var/stability_test
# Exit 0 when every criterion passes, 1 otherwise; the summary is printed and written to
# $LOG_DIR/summary_<timestamp>.txt next to the bench result and the samples.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
if [ -n "${DURATION_SEC:-}" ]; then
    duration_sec=$DURATION_SEC
else
    duration_sec=$(( ${TEST_DURATION_MINUTES:-60} * 60 ))
fi
rate=${RATE:-${REQUEST_RATE_PER_SEC:-100}}
interval=${STATS_INTERVAL_SEC:-10}
url=${GATEWAY_URL:-${APP_URL:-}}
if [ -z "$url" ]; then
    if [ -n "${SPAWN:-}" ]; then  # a spawned server gets a free port, so a dev gateway is untouched
        url="http://127.0.0.1:$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    else
        url=http://127.0.0.1:8080
    fi
fi
profile=${PROFILE:-steady}
log_dir=${LOG_DIR:-var/stability_test}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$log_dir"
result="$log_dir/bench_${stamp}.json"
samples="$log_dir/metrics_${stamp}.jsonl"
summary="$log_dir/summary_${stamp}.txt"

spawn_args=()
if [ -n "${SPAWN:-}" ]; then
    spawn_args=(--spawn "$SPAWN")
fi

echo "stability test: ${duration_sec}s at ${rate}/s against ${url} (profile ${profile}${SPAWN:+, spawn $SPAWN}); logs in ${log_dir}"

# The sampler starts a little later so a spawned server is up; it stops on its own.
( sleep 2; "$PY" -m switchyard.sre.sampler --url "$url" --interval-sec "$interval" \
    --duration-sec "$duration_sec" --out "$samples" ) &
sampler=$!
trap 'kill "$sampler" 2>/dev/null || true' EXIT

status=0
"$PY" -m switchyard bench --url "$url" --profile "$profile" --rate "$rate" \
    --duration "$duration_sec" --interval-sec "$interval" --out "$result" --quiet \
    "${spawn_args[@]}" || status=$?
wait "$sampler" 2>/dev/null || true
trap - EXIT
if [ ! -f "$result" ]; then
    echo "stability test: FAIL (the bench wrote no result; exit status $status)"
    exit 1
fi
"$PY" -m switchyard.sre.stability "$result" "$samples" "$summary"
