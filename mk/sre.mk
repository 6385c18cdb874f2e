# SRE toolchain (src/switchyard/sre, docs/SRE.md): the three CI gates, the bench tool's own
# ceiling, baselines, canary, guards and the stability test. `make bench` belongs to the
# gateway (mk of the lead); Gate1 runs its own bench through `switchyard bench`.
.PHONY: check-lite check check-full bless bench-tool-ceiling canary gate perf-gate tune \
	cost-guard dlp change-risk triage stability-test test-sre sre-contracts sre-gate1 sre-gate2

SRE_RESULTS ?= bench/results
SRE_URL ?= http://127.0.0.1:8080
SRE_PROFILE ?= steady
SRE_BENCH_PORT ?= 18080
GATE1_OUT ?= $(SRE_RESULTS)/gate1-$(SRE_PROFILE).json
IN ?= $(GATE1_OUT)
DIFF_BASE ?= main
BLESS_FLAGS ?=
BUDGET_YEN_PER_1K ?= 12.0
SOAK_MINUTES ?= 10
SOAK_RATE ?= 500

check-lite: lint sre-contracts test  ## Gate0: ruff, format, mypy, import layers, contracts and SLO spec, the default test suite

sre-contracts: setup  ## contracts/*.schema.json are valid JSON Schemas; docs/specs/slo.md parses
	$(BIN)/switchyard gate --check-contracts

check: check-lite sre-gate1  ## Gate1: Gate0 + bench of a spawned gateway + SLO gate + perf gate (per RUNNER_LABEL baseline)

$(SRE_RESULTS)/tool-ceiling.json:
	$(BIN)/switchyard bench --tool-ceiling --out $@

sre-gate1: setup $(SRE_RESULTS)/tool-ceiling.json
	-$(BIN)/switchyard change-risk --diff-base $(DIFF_BASE) --out $(SRE_RESULTS)/change-risk.json --summary $(SRE_RESULTS)/change-risk.md
	$(BIN)/switchyard bench --spawn gateway --url http://127.0.0.1:$(SRE_BENCH_PORT) --profile $(SRE_PROFILE) --server-cpu 0 --cpu 1 --out $(GATE1_OUT)
	$(BIN)/switchyard gate --in $(GATE1_OUT) --summary $(SRE_RESULTS)/gate1-slo.md
	$(BIN)/switchyard perf-gate --in $(GATE1_OUT) --summary $(SRE_RESULTS)/gate1-perf.md

check-full: check sre-gate2  ## Gate2: Gate1 + slow/soak/crash_full/sim_full suites + a stability soak of a spawned gateway

sre-gate2: setup
	$(BIN)/python -m pytest -m "slow or soak or crash_full or sim_full" $(PYTEST_ARGS)
	SPAWN=gateway TEST_DURATION_MINUTES=$(SOAK_MINUTES) REQUEST_RATE_PER_SEC=$(SOAK_RATE) ./scripts/stability_test.sh

bless: setup  ## promote a bench result to this runner's baseline: make bless IN=bench/results/<file>.json [BLESS_FLAGS=--force]
	$(BIN)/switchyard perf-gate --in $(IN) --bless $(BLESS_FLAGS)

bench-tool-ceiling: setup  ## the load generators' own max rate against a constant-202 server -> bench/results/tool-ceiling.json
	$(BIN)/switchyard bench --tool-ceiling --out $(SRE_RESULTS)/tool-ceiling.json

canary: setup  ## quick canary against SRE_URL (default :8080) -> bench/results/canary.json, then its SLO gate
	$(BIN)/switchyard canary --url $(SRE_URL) --events 1000 --out $(SRE_RESULTS)/canary.json
	$(BIN)/switchyard gate --in $(SRE_RESULTS)/canary.json

gate: setup  ## SLO gate of a result: make gate IN=<file>
	$(BIN)/switchyard gate --in $(IN)

perf-gate: setup  ## perf gate of a result against bench/baselines/$RUNNER_LABEL.json: make perf-gate IN=<file>
	$(BIN)/switchyard perf-gate --in $(IN)

tune: setup  ## tuning advice from a result and the live gateway: make tune IN=<file>
	$(BIN)/switchyard tune --in $(IN) --url $(SRE_URL)

cost-guard: setup  ## cost per 1k orders of a result vs BUDGET_YEN_PER_1K
	$(BIN)/switchyard cost-guard --in $(IN) --budget-yen-per-1k $(BUDGET_YEN_PER_1K)

dlp: setup  ## scan var/ (logs, results) and bench/results for PII and secrets
	$(BIN)/switchyard dlp $(wildcard var) $(SRE_RESULTS)

change-risk: setup  ## risk of the change against DIFF_BASE (default main)
	$(BIN)/switchyard change-risk --diff-base $(DIFF_BASE) --out $(SRE_RESULTS)/change-risk.json

triage: setup  ## rank runbook sections: make triage Q="orders refused 503 BACKPRESSURE_DISK_FREE"
	$(BIN)/switchyard triage "$(Q)"

stability-test: setup  ## soak: TEST_DURATION_MINUTES (60) at REQUEST_RATE_PER_SEC (100) against GATEWAY_URL or SPAWN=gateway
	./scripts/stability_test.sh

test-sre: setup  ## SRE toolchain tests (unit + loopback integration)
	$(BIN)/python -m pytest tests/unit/sre tests/integration/test_sre_*.py $(PYTEST_ARGS)
