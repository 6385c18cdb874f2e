# Venue: matching engine (src/switchyard/book), venue service/transports (src/switchyard/venue), docs/VENUE.md.
.PHONY: test-venue bench-venue bench-venue-quick venue

VENUE_BENCH_PEERS := akhil4n-orderbook==0.1.1 cython-orderbook==0.1.2

test-venue: setup  ## venue: engine unit + reference-book property, protocol, transports, process, golden
	$(BIN)/python -m pytest tests/unit/book tests/unit/venue tests/property/test_book_*.py tests/integration/test_venue_*.py tests/golden/test_venue_*.py $(PYTEST_ARGS)

bench-venue: setup  ## engine throughput + p50/p99/p99.9, 1M ops of an exchange-core-like mix, next to PyPI peers -> bench/results/venue-*.json
	@$(BIN)/python -c "import orderbook, cython_orderbook" 2>/dev/null || $(BIN)/python -m pip install -q --disable-pip-version-check $(VENUE_BENCH_PEERS)
	$(BIN)/python -m bench.venue.run --ops 1000000

bench-venue-quick: setup  ## venue benchmark smoke run (100k ops)
	@$(BIN)/python -c "import orderbook, cython_orderbook" 2>/dev/null || $(BIN)/python -m pip install -q --disable-pip-version-check $(VENUE_BENCH_PEERS)
	$(BIN)/python -m bench.venue.run --ops 100000 --out bench/results/venue-quick.json

venue: setup  ## run the stand-alone TCP venue on :9901 (metrics on :9902)
	$(BIN)/switchyard venue
