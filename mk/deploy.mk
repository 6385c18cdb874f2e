# Observability and deployment (issue 8): deploy/, Dockerfile, docker-compose.yml,
# docs/METRICS.md, docs/DEPLOYMENT.md. Docker has no engine on the development machines:
# the compose targets say so and stop; the files are checked by `make test-deploy`.
.PHONY: metrics stats health dashboard grafana grafana-up grafana-down compose-up compose-full \
	compose-down docker-build deploy-check test-deploy grafana-dashboards

SWITCHYARD_URL ?= http://127.0.0.1:8080
BACKOFFICE_URL ?= http://127.0.0.1:8082
COMPOSE ?= docker compose
DOCKER_IMAGE ?= switchyard:0.1.0
NGINX_CHECK_DIR := $(or $(TMPDIR),/tmp)/switchyard-nginx-check

# Stops a Docker target with a clear message where Docker has no engine (as here).
define require_docker
	@docker info >/dev/null 2>&1 || { echo "$@: no Docker engine here ('docker info' fails): docker-compose.yml, the Dockerfile and deploy/k8s are checked structurally by 'make test-deploy' (docs/DEPLOYMENT.md)"; exit 1; }
endef

metrics:  ## the gateway's /metrics, Switchyard and seed names (SWITCHYARD_URL, default :8080)
	@curl -fsS $(SWITCHYARD_URL)/metrics | grep -E '^(switchyard_|fast_path_|gateway_|persistence_queue_|strategy_|process_|python_)'

stats:  ## the gateway's /stats, pretty-printed
	@curl -fsS $(SWITCHYARD_URL)/stats | python3 -m json.tool

health:  ## the gateway's /health (healthy / degraded / unhealthy and each check)
	@curl -sS $(SWITCHYARD_URL)/health | python3 -m json.tool

dashboard: setup  ## live terminal dashboard of the gateway (and back office); Ctrl+C to quit
	$(BIN)/switchyard dashboard --url $(SWITCHYARD_URL) --backoffice-url $(BACKOFFICE_URL)

grafana-up: grafana

grafana:  ## Prometheus :9090 + Grafana :3000 (admin/admin) with docker compose (needs a Docker engine)
	$(require_docker)
	$(COMPOSE) --profile monitoring up -d
	@echo "Grafana: http://localhost:3000 (dashboards in folder Switchyard); Prometheus: http://localhost:9090"

grafana-down:  ## stop the compose stack started by make grafana
	$(require_docker)
	$(COMPOSE) --profile monitoring down

compose-up:  ## gateway :8080 + back office :8082 with docker compose (needs a Docker engine)
	$(require_docker)
	$(COMPOSE) up -d --build

compose-full:  ## every profile: Kafka + outbox, PostgreSQL, TCP venue, monitoring, nginx :8088
	$(require_docker)
	$(COMPOSE) --env-file deploy/compose/full.env --profile full up -d --build

compose-down:  ## stop every compose service (all profiles)
	$(require_docker)
	$(COMPOSE) --profile full down

docker-build:  ## build the image (DOCKER_IMAGE, default switchyard:0.1.0)
	$(require_docker)
	docker build -t $(DOCKER_IMAGE) .

grafana-dashboards: setup  ## regenerate deploy/grafana/dashboards/*.json from build_dashboards.py
	$(BIN)/python deploy/grafana/build_dashboards.py

deploy-check: setup system-deps  ## promtool check config/rules/tests, nginx -t, dashboards up to date
	promtool check config deploy/prometheus/prometheus.yml
	$(BIN)/python deploy/grafana/build_dashboards.py --check
	@mkdir -p $(NGINX_CHECK_DIR)
	nginx -t -p $(NGINX_CHECK_DIR) -c $(CURDIR)/deploy/nginx/nginx.conf -g "pid $(NGINX_CHECK_DIR)/nginx.pid;"
	$(BIN)/python -m pytest tests/deploy/test_prometheus_rules.py -q $(PYTEST_ARGS)

test-deploy: setup system-deps  ## deploy tests: metrics, promtool, live Prometheus, Grafana models, nginx, containers, dashboard
	$(BIN)/python -m pytest tests/deploy $(PYTEST_ARGS)
