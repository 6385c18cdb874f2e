# Strategy auto-trader (src/switchyard/strategy, extensions/strategy.py); docs/STRATEGY.md.
.PHONY: test-strategy sim-strategy strategy-measure

STRATEGY_TESTS := tests/unit/strategy tests/sim/test_strategy_sim.py tests/integration/test_strategy_*.py

test-strategy: setup  ## strategy: signal, trader rails, store (SQLite + PostgreSQL), service, runner, API and trading on a live gateway, simulation (~45 s)
	$(BIN)/python -m pytest $(STRATEGY_TESTS) $(PYTEST_ARGS)

sim-strategy: setup  ## strategy deterministic simulation: 50 more seeds x 3000 ticks, twice each (~2 min)
	$(BIN)/python -m pytest -m sim_full tests/sim/test_strategy_sim.py $(PYTEST_ARGS)

strategy-measure: setup  ## strategy measurements: worst-case tick cost, config DB call latency and event-loop lag (SQLite, PostgreSQL)
	$(BIN)/python -m pytest -m perf -s tests/integration/test_strategy_perf.py $(PYTEST_ARGS)
