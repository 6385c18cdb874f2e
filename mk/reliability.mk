# Reliability and security suite (issue 10, docs/RELIABILITY.md): crash points, power loss,
# deterministic simulation, hostile clients, fuzzing. The default suite (`make test`) runs a
# slice of each; these targets run the full counts.
.PHONY: test-reliability test-crash test-power sim fuzz test-hostile reliability-figures

SEEDS ?= 200
SEED ?=
SIM_DURATION_S ?= 10
ifeq ($(origin SIM_SEED_BASE),undefined)
SIM_SEED_BASE := $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
endif
FUZZ_SECONDS ?= 60
FUZZ_EXAMPLES ?= 20000
FUZZ_TARGETS ?= http order wal-record wal-segment venue envelope
SCHEMATHESIS_EXAMPLES ?= 200
RELIABILITY_FIGURES ?= test-artifacts/reliability-figures.jsonl
RELIABILITY_PATHS := tests/crash/test_gateway_*.py tests/crash/test_power_*.py \
	tests/crash/test_service_*.py tests/sim/test_system_sim.py tests/security tests/fuzz

test-reliability: setup  ## the reliability suite's default slice (what `make test` runs of it)
	$(BIN)/python -m pytest $(RELIABILITY_PATHS) $(PYTEST_ARGS)

test-crash: setup  ## SIGKILL crash points: 1,040 gateway + 200 back office + 200 venue (~30 min)
	$(BIN)/python -m pytest -m crash_full -p no:cacheprovider -o timeout=3600 \
		tests/crash/test_gateway_kill_points.py tests/crash/test_service_kill_points.py $(PYTEST_ARGS)

test-power: setup  ## power loss: the WAL engineer's 10,200 cuts + every byte/bit of the tail, corruption, write sites
	$(MAKE) test-wal-crash
	$(BIN)/python -m pytest -m crash_full -o timeout=1800 tests/crash/test_power_tail.py \
		tests/crash/test_power_corruption.py tests/crash/test_power_write_sites.py $(PYTEST_ARGS)

sim: setup  ## deterministic simulation: SEEDS=N random seeds (SEED=S replays one)
ifeq ($(SEED),)
	@echo "sim: seeds $(SIM_SEED_BASE)..$$(( $(SIM_SEED_BASE) + $(SEEDS) - 1 )) (SIM_SEED_BASE=$(SIM_SEED_BASE))"
	SIM_FULL=1 SIM_SEEDS=$(SEEDS) SIM_SEED_BASE=$(SIM_SEED_BASE) SIM_DURATION_S=$(SIM_DURATION_S) \
		RELIABILITY_FIGURES=$(RELIABILITY_FIGURES) $(BIN)/python -m pytest \
		-m sim_full -o timeout=7200 -q tests/sim/test_system_sim.py $(PYTEST_ARGS)
else
	$(BIN)/python -m switchyard.testing.sim --seed $(SEED) --duration $(SIM_DURATION_S)
endif

fuzz: setup  ## atheris for FUZZ_SECONDS per target, then Hypothesis with FUZZ_EXAMPLES per target
	@mkdir -p test-artifacts/fuzz
	@for target in $(FUZZ_TARGETS); do \
		echo "== atheris $$target ($(FUZZ_SECONDS) s)"; \
		$(BIN)/python tests/fuzz/atheris_fuzz.py $$target -max_total_time=$(FUZZ_SECONDS) \
			-print_final_stats=1 2>&1 | grep -E "Done|stat::number_of_executed_units|ERROR|crash-" \
			|| exit 1; \
	done
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -o timeout=7200 tests/fuzz $(PYTEST_ARGS)

test-hostile: setup  ## hostile clients: JWT, cross-account, HTTP abuse, slowloris, schemathesis (200 examples)
	SCHEMATHESIS_EXAMPLES=$(SCHEMATHESIS_EXAMPLES) RELIABILITY_FIGURES=$(RELIABILITY_FIGURES) \
		$(BIN)/python -m pytest -o timeout=3600 -s tests/security $(PYTEST_ARGS)

reliability-figures: test-crash test-power sim fuzz test-hostile  ## every full run (the figures in docs/RELIABILITY.md)
