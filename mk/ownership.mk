# The event switchyard path and scale-out (issue 5): /events, key ownership with etcd.
# Code: src/switchyard/ownership, extensions/ownership.py, cli/cmd_assign.py; docs/SCALE_OUT.md.
.PHONY: test-ownership test-ownership-cluster bench-events assign

OWNERSHIP_TESTS := tests/unit/ownership tests/integration/test_ownership_*.py

test-ownership: setup system-deps  ## ownership: unit, etcd client, coordinators, three gateways + etcd, static, Kafka
	$(BIN)/python -m pytest $(OWNERSHIP_TESTS) $(PYTEST_ARGS)

test-ownership-cluster: setup system-deps  ## the three-gateway scenario alone (kill, restart, etcd outage, WAL audit)
	$(BIN)/python -m pytest tests/integration/test_ownership_cluster.py $(PYTEST_ARGS)

bench-events: setup system-deps  ## /events latency (switchyard bench) and capacity (wrk) on 1 engine, aggregate on 2 engines -> bench/results/events.json
	$(BIN)/python -m bench.events.run --out bench/results/events.json

assign: setup  ## show the key assignment in etcd (ETCD_ENDPOINTS); see `switchyard assign --help`
	$(BIN)/switchyard assign
