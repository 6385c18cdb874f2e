# Backpressure and overload (issue 11): src/switchyard/backpressure, docs/BACKPRESSURE.md.
.PHONY: test-backpressure bench-overload bench-overload-quick bench-admission backpressure-plots

OVERLOAD_FLAGS ?=

test-backpressure: setup  ## backpressure unit, simulation and live-gateway tests (burst, full disk, slow disk)
	$(BIN)/python -m pytest tests/unit/backpressure tests/integration/test_backpressure_*.py $(PYTEST_ARGS)

bench-overload: setup bench-admission  ## 5x measured capacity, four times (~2 min) -> bench/results/overload.json (OVERLOAD_FLAGS="--multiples 2,3,5")
	$(BIN)/python -m bench.overload.run --multiples 5 --duration 10 --runs 4 $(OVERLOAD_FLAGS) --out bench/results/overload.json

bench-overload-quick: setup  ## overload smoke run: 5x for 3 s, once, no unprotected comparison
	$(BIN)/python -m bench.overload.run --multiples 5 --duration 3 --runs 1 --no-unprotected --capacity-duration 3 --out bench/results/overload-quick.json

bench-admission: setup  ## ns per admission check (nothing / everything configured, refusing) -> bench/results/overload-admission.json
	$(BIN)/python -m bench.overload.admission_cost --out bench/results/overload-admission.json

backpressure-plots: setup  ## redraw docs/backpressure/*.png (the controller against the simulated WAL)
	$(BIN)/python -m bench.overload.plot_controller --out docs/backpressure
