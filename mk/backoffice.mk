# Outbox (src/switchyard/outbox), back office (src/switchyard/backoffice), ledger math
# (src/switchyard/ledger); docs/BACKOFFICE.md.
.PHONY: test-backoffice test-backoffice-faults bench-outbox bench-outbox-quick backoffice backoffice-rebuild outbox

BACKOFFICE_TESTS := tests/unit/ledger tests/unit/outbox tests/unit/backoffice \
	tests/integration/test_outbox_*.py tests/integration/test_backoffice_*.py

test-backoffice: setup  ## outbox + back office: unit, contract, Kafka (tansu), SQLite and PostgreSQL, real gateway
	$(BIN)/python -m pytest $(BACKOFFICE_TESTS) $(PYTEST_ARGS)

test-backoffice-faults: setup  ## outbox + back office fault runs: broker stopped/restarted, SIGKILLs mid-send and mid-transaction (~5 min)
	$(BIN)/python -m pytest -m slow $(BACKOFFICE_TESTS) $(PYTEST_ARGS)

bench-outbox: setup  ## WAL -> Kafka events/s next to a bare producer, end-to-end lag p50/p99, event-loop cost -> bench/results/outbox.json
	$(BIN)/python -m bench.outbox.run --out bench/results/outbox.json

bench-outbox-quick: setup  ## outbox benchmark smoke run (20k records, short phases)
	$(BIN)/python -m bench.outbox.run --records 20000 --repeats 1 --seconds 3 --loop-seconds 1 --out bench/results/outbox-quick.json

backoffice: setup  ## run the back office on :8082 (Kafka if KAFKA_BOOTSTRAP_SERVERS is set, else the gateway's WAL)
	$(BIN)/switchyard backoffice

backoffice-rebuild: setup  ## recompute the books from the topic (or WAL) into a scratch database and compare
	$(BIN)/switchyard backoffice rebuild

outbox: setup  ## run the outbox as its own process beside a gateway (needs KAFKA_BOOTSTRAP_SERVERS)
	$(BIN)/python -m switchyard.outbox
