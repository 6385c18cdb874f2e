# Ops and trading web UI (src/switchyard/ops, docs/UI.md). No build step: the static files
# under src/switchyard/ops/static are the sources and what the gateway serves.
.PHONY: test-ui ui-screenshots

UI_URL ?=
UI_SCREENSHOTS ?= docs/screenshots

test-ui: setup  ## UI: unit, HTTP contract and browser tests (Debian chromium)
	$(BIN)/python -m pytest tests/unit/ops tests/integration/test_ui_gateway.py tests/browser $(PYTEST_ARGS)

ui-screenshots: setup  ## PNGs of each view (laptop + phone) -> docs/screenshots; spawns a gateway with simulated liquidity unless UI_URL=http://... (token: SWITCHYARD_TOKEN or dev sign-in)
	$(BIN)/python ui/screenshots.py --out $(UI_SCREENSHOTS) $(if $(UI_URL),--url $(UI_URL))
