# Write-ahead log (src/switchyard/wal, docs/WAL.md).
.PHONY: test-wal test-wal-crash bench-wal bench-wal-quick

test-wal: setup  ## WAL unit, property, golden and the default crash slice
	$(BIN)/python -m pytest tests/unit/wal tests/property/test_wal_*.py tests/golden/test_wal_*.py tests/crash/test_wal_*.py $(PYTEST_ARGS)

test-wal-crash: setup  ## WAL power-loss suite: 10,200 simulated power cuts (~2 min)
	$(BIN)/python -m pytest -m crash_full tests/crash/test_wal_power_loss.py $(PYTEST_ARGS)

bench-wal: setup  ## WAL: append cost, preallocation, group commit, thread vs process flusher -> bench/results/wal.json
	$(BIN)/python bench/wal/bench_wal.py --out bench/results/wal.json

bench-wal-quick: setup  ## WAL benchmark smoke run (1 s per loop run)
	$(BIN)/python bench/wal/bench_wal.py --quick --out bench/results/wal-quick.json
