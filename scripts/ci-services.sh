#!/usr/bin/env bash
# Check (and where we can, start) every service the default test suite needs.
# PostgreSQL is provided by the machine; etcd, tansu, Prometheus, nginx and Chromium are
# started by the tests themselves from the binaries installed here.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-system-deps.sh
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    echo "ci-services: PostgreSQL is not answering on 127.0.0.1:5432; trying to start it"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432
for bin in etcd promtool prometheus nginx chromium wrk; do
    command -v "$bin" >/dev/null || { echo "ci-services: $bin missing"; exit 1; }
done
echo "ci-services: ok"
