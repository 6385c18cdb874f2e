# The gateway core (issue 2): its benchmarks and smoke runs. Results go to bench/results/.
.PHONY: bench bench-hotpath transport-smoke test-gateway

bench: setup system-deps  ## gateway capacity + latency next to the HTTP ceiling -> bench/results/gateway-*.json, docs/PERFORMANCE.md
	$(BIN)/python -m bench.gateway.run --doc docs/PERFORMANCE.md

test-gateway: setup  ## the gateway's own tests (HTTP, auth, pipeline, risk, runtime, integration)
	$(BIN)/python -m pytest tests/unit/adapters tests/unit/pipeline tests/unit/risk tests/unit/runtime \
		tests/property/test_pipeline_lifecycle.py tests/integration/test_http_server.py \
		tests/integration/test_gateway_orders.py tests/integration/test_replay.py $(PYTEST_ARGS)

bench-hotpath: setup  ## CPU per order through the request path, in-process (no network, no fsync)
	$(BIN)/python -m bench.gateway.hotpath --orders 50000
	$(BIN)/python -m bench.gateway.hotpath --orders 50000 --constant

transport-smoke: setup  ## accept -> fill latency, in-process venue vs TCP venue
	./scripts/exchange_transport_smoke.sh sim 500
	./scripts/exchange_transport_smoke.sh tcp 500
