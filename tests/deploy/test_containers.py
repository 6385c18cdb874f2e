"""Dockerfile, docker-compose.yml and deploy/k8s, validated structurally (no Docker engine here).

What is checked: the YAML loads; required keys per kind; images pinned; ports consistent
with the README defaults and with the Prometheus scrape targets; every environment variable
given to a Switchyard process is a declared setting (a typo would be silently ignored);
one outbox per WAL; one WAL volume per gateway replica; probes on /health; non-root.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest

from switchyard.core import env
from tests.deploy import shipped

ROOT = shipped.ROOT
COMPOSE = ROOT / "docker-compose.yml"
K8S = shipped.DEPLOY / "k8s"
PROFILES = {"monitoring", "kafka", "postgres", "full"}
SWITCHYARD_SERVICES = {"gateway", "backoffice", "venue", "outbox"}
# Not settings of the application: read by the image's HEALTHCHECK, or k8s plumbing.
NOT_SETTINGS = {"HEALTHCHECK_URL", "POD_NAME"}


def _declared_settings() -> set[str]:
    import switchyard.app  # noqa: F401 - importing declares the gateway's settings
    import switchyard.backoffice.settings  # noqa: F401
    import switchyard.cli.main
    from switchyard.extensions import discover

    switchyard.cli.main.build_parser()  # every command module declares its settings
    discover()
    return set(env.REGISTRY)


def _interpolate(value: str) -> str:
    """Compose's ${VAR:-default} / ${VAR} with nothing set: the defaults."""
    return re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}", lambda m: m.group(2) or "", value)


def _compose() -> dict[str, Any]:
    document = shipped.load_yaml(COMPOSE)
    assert isinstance(document, dict)
    return document


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


# --- Dockerfile ------------------------------------------------------------------------------


def _dockerfile() -> list[str]:
    """Instructions, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_dockerfile_runs_as_a_non_root_user_with_a_healthcheck() -> None:
    lines = _dockerfile()
    froms = [index for index, line in enumerate(lines) if line.startswith("FROM ")]
    assert len(froms) == 2, "a build stage and a runtime stage"
    runtime = lines[froms[-1] :]
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users, "the runtime stage sets USER"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert "10001" in " ".join(runtime), "the fixed uid the k8s securityContext expects"
    healthcheck = [line for line in runtime if line.startswith("HEALTHCHECK ")]
    assert len(healthcheck) == 1
    assert "HEALTHCHECK_URL" in healthcheck[0]
    assert any("HEALTHCHECK_URL=http://127.0.0.1:8080/health" in line for line in runtime)
    assert 'ENTRYPOINT ["switchyard"]' in runtime
    assert 'CMD ["run"]' in runtime


def test_dockerfile_builds_a_small_image_from_pinned_inputs() -> None:
    lines = _dockerfile()
    assert any(line.startswith("ARG PYTHON_IMAGE=python:3.11-slim") for line in lines)
    install = [line for line in lines if "pip install" in line]
    assert len(install) == 1
    assert "--constraint requirements.lock" in install[0]
    assert "PIP_NO_CACHE_DIR=1" in " ".join(lines)
    assert not any(line.startswith("ADD ") for line in lines), "COPY only, nothing fetched"
    exposed = next(line for line in lines if line.startswith("EXPOSE ")).split()[1:]
    assert {"8080", "8082", "9901", "9902", "9903"} == set(exposed)
    assert any("SWITCHYARD_ENV=production" in line for line in lines)


def _ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics for the patterns used here (last match wins, ! negates)."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern.removeprefix("!").rstrip("/")
        if fnmatch.fnmatch(path, body) or fnmatch.fnmatch(path, f"{body}/*") or body == "*":
            ignored = not negate
    return ignored


def test_dockerignore_sends_only_what_the_build_copies() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = ["pyproject.toml", "requirements.lock", "README.md", "src/switchyard/app.py"]
    for path in copied:
        assert not _ignored(path, patterns), path
    for path in [".git/HEAD", ".venv/bin/python", "var/wal/x", "var/secrets/jwt", "tests/x.py",
                 "bench/results/x.json", "src/switchyard/__pycache__/x.pyc"]:  # fmt: skip
        assert _ignored(path, patterns), path


# --- docker-compose.yml ------------------------------------------------------------------------


def test_compose_profiles_are_the_four_of_the_issue() -> None:
    services = _services()
    used = {profile for service in services.values() for profile in service.get("profiles", [])}
    assert used == PROFILES
    for profile in PROFILES - {"full"}:
        members = {name for name, s in services.items() if profile in s.get("profiles", [])}
        assert members, profile
        full = {name for name, s in services.items() if "full" in s.get("profiles", [])}
        assert members <= full, f"`full` must include every service of `{profile}`"
    always = {name for name, service in services.items() if "profiles" not in service}
    assert always == {"gateway", "backoffice"}


def test_compose_images_are_pinned() -> None:
    for name, service in _services().items():
        image = _interpolate(service["image"])
        repository, _, tag = image.rpartition(":")
        assert repository, (name, image)
        assert tag, (name, image)
        assert tag != "latest", (name, image)
        if name in SWITCHYARD_SERVICES:
            assert repository == "switchyard", name
            assert "build" in service, name


def _ports(service: dict[str, Any]) -> dict[int, int]:
    """container port -> published port."""
    found = {}
    for mapping in service.get("ports", []):
        published, _, container = str(mapping).rpartition(":")
        found[int(container)] = int(published)
    return found


def test_compose_ports_match_the_readme_and_prometheus() -> None:
    services = _services()
    expected = {
        "gateway": {8080: 8080},
        "backoffice": {8082: 8082},
        "venue": {9901: 9901, 9902: 9902},
        "outbox": {9903: 9903},
        "prometheus": {9090: 9090},
        "grafana": {3000: 3000},
        "nginx": {80: 8088},
    }
    for name, ports in expected.items():
        assert _ports(services[name]) == ports, name
    environment = {name: services[name].get("environment", {}) for name in SWITCHYARD_SERVICES}
    assert environment["gateway"]["GATEWAY_PORT"] == "8080"
    assert environment["backoffice"]["BACKOFFICE_PORT"] == "8082"
    assert environment["venue"]["VENUE_METRICS_PORT"] == "9902"
    readme = (ROOT / "README.md").read_text()
    for variable, port in (("GATEWAY_PORT", 8080), ("BACKOFFICE_PORT", 8082)):
        assert f"| `{variable}` | `{port}` |" in readme
    # Prometheus (deploy/prometheus/prometheus.yml) scrapes these services on these ports.
    config = shipped.load_yaml(shipped.PROMETHEUS_DIR / "prometheus.yml")
    targets = set()
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets.update(static["targets"])
        for dns in job.get("dns_sd_configs", []):
            targets.update(f"{name}:{dns['port']}" for name in dns["names"])
    for target in targets - {"localhost:9090"}:
        host, _, port = target.partition(":")
        assert host in services, target
        assert int(port) in _ports(services[host]), target


def test_compose_switchyard_services_get_only_declared_settings() -> None:
    declared = _declared_settings()
    for name in SWITCHYARD_SERVICES:
        environment = _services()[name]["environment"]
        unknown = set(environment) - declared - NOT_SETTINGS
        assert not unknown, f"{name}: not Switchyard settings (typo?): {sorted(unknown)}"


def test_compose_runs_one_outbox_per_wal() -> None:
    services = _services()
    assert "KAFKA_BOOTSTRAP_SERVERS" not in services["gateway"]["environment"]
    outbox = services["outbox"]
    assert "gateway-data:/gateway:ro" in outbox["volumes"]
    assert outbox["command"][:2] == ["--data-dir", "/gateway"]


def test_compose_mounts_exist_and_match_the_provisioning_paths() -> None:
    services = _services()
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), (name, source)
    grafana = services["grafana"]["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana
    nginx = services["nginx"]["volumes"]
    assert "./deploy/nginx/upstreams.compose.conf:/etc/nginx/upstreams.conf:ro" in nginx
    assert services["prometheus"]["volumes"][0] == "./deploy/prometheus:/etc/prometheus:ro"
    assert set(_compose()["volumes"]) >= {
        volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if not volume.startswith("./")
    }


def test_compose_env_files_wire_what_their_profiles_start() -> None:
    used_in_compose = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    for path in sorted((shipped.DEPLOY / "compose").glob("*.env")):
        values = dict(
            line.split("=", 1)
            for line in path.read_text().splitlines()
            if line and not line.startswith("#")
        )
        assert set(values) <= used_in_compose, (path.name, set(values) - used_in_compose)
        if "SWITCHYARD_KAFKA" in values:
            assert values["SWITCHYARD_KAFKA"] == "kafka:9092"
        if "SWITCHYARD_DB_URL" in values:
            assert values["SWITCHYARD_DB_URL"].startswith("postgresql+psycopg://")
            assert "@postgres:5432/switchyard" in values["SWITCHYARD_DB_URL"]
            assert values["POSTGRES_PASSWORD"] in values["SWITCHYARD_DB_URL"]
    assert {path.stem for path in (shipped.DEPLOY / "compose").glob("*.env")} == {
        "kafka",
        "postgres",
        "full",
    }


def test_compose_healthchecks_use_health_endpoints() -> None:
    services = _services()
    for name, port in (("gateway", 8080), ("backoffice", 8082)):
        assert services[name]["environment"]["HEALTHCHECK_URL"] == (
            f"http://127.0.0.1:{port}/health"
        )
        assert "HEALTHCHECK_URL" in " ".join(services[name]["healthcheck"]["test"])


# --- Kubernetes ---------------------------------------------------------------------------------


def _k8s() -> list[dict[str, Any]]:
    import yaml

    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            assert document, path
            document["__file__"] = path.name
            documents.append(document)
    return documents


def _kind(kind: str) -> list[dict[str, Any]]:
    return [document for document in _k8s() if document["kind"] == kind]


REQUIRED = {
    "Namespace": ["apiVersion", "metadata"],
    "ConfigMap": ["apiVersion", "metadata", "data"],
    "StatefulSet": ["apiVersion", "metadata", "spec"],
    "Deployment": ["apiVersion", "metadata", "spec"],
    "Service": ["apiVersion", "metadata", "spec"],
    "PodDisruptionBudget": ["apiVersion", "metadata", "spec"],
}
API_VERSIONS = {
    "Namespace": "v1",
    "ConfigMap": "v1",
    "Service": "v1",
    "StatefulSet": "apps/v1",
    "Deployment": "apps/v1",
    "PodDisruptionBudget": "policy/v1",
}


def test_k8s_documents_have_their_required_keys_and_the_kustomization_lists_them() -> None:
    documents = _k8s()
    for document in documents:
        kind = document["kind"]
        assert kind in REQUIRED, document["__file__"]
        for key in REQUIRED[kind]:
            assert key in document, (document["__file__"], kind, key)
        assert document["apiVersion"] == API_VERSIONS[kind]
        assert re.fullmatch(r"[a-z0-9-]+", document["metadata"]["name"])
    kustomization = shipped.load_yaml(K8S / "kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(
        path.name for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml"
    )
    assert {doc["kind"] for doc in documents} >= {
        "StatefulSet",
        "Service",
        "ConfigMap",
        "PodDisruptionBudget",
    }


def _workloads() -> list[dict[str, Any]]:
    return _kind("StatefulSet") + _kind("Deployment")


def test_k8s_gateway_replicas_each_have_their_own_wal_volume() -> None:
    (gateway,) = _kind("StatefulSet")
    spec = gateway["spec"]
    assert spec["replicas"] > 1
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    containers = {c["name"]: c for c in spec["template"]["spec"]["containers"]}
    data_dir = next(
        e["value"] for e in containers["gateway"]["env"] if e["name"] == "SWITCHYARD_DATA_DIR"
    )
    mounts = {m["name"]: m["mountPath"] for m in containers["gateway"]["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == data_dir
    pod_volumes = {v["name"] for v in spec["template"]["spec"].get("volumes", [])}
    assert claim["metadata"]["name"] not in pod_volumes, "a shared volume, not per replica"
    # No workload with several replicas mounts one PersistentVolumeClaim (the original's bug).
    for workload in _workloads():
        for volume in workload["spec"]["template"]["spec"].get("volumes", []):
            assert "persistentVolumeClaim" not in volume, workload["metadata"]["name"]


def test_k8s_probes_use_health_on_the_serving_port() -> None:
    for workload in _workloads():
        container = workload["spec"]["template"]["spec"]["containers"][0]
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        for probe in ("readinessProbe", "livenessProbe"):
            get = container[probe]["httpGet"]
            assert get["path"] == "/health", (workload["metadata"]["name"], probe)
            assert get["port"] in ports
        # a liveness restart needs a minute of failures, never one slow answer
        liveness = container["livenessProbe"]
        assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 60
    (gateway,) = _kind("StatefulSet")
    startup = gateway["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    assert startup["httpGet"]["path"] == "/health"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120  # WAL replay


def test_k8s_ports_and_services_agree_with_the_readme() -> None:
    services = {s["metadata"]["name"]: s for s in _kind("Service")}
    assert services["switchyard-gateway"]["spec"]["ports"][0]["port"] == 8080
    assert services["switchyard-backoffice"]["spec"]["ports"][0]["port"] == 8082
    assert services["switchyard-gateway-headless"]["spec"]["clusterIP"] == "None"
    (gateway,) = _kind("StatefulSet")
    assert gateway["spec"]["serviceName"] == "switchyard-gateway-headless"
    for workload in _workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        container = workload["spec"]["template"]["spec"]["containers"][0]
        assert int(annotations["prometheus.io/port"]) == container["ports"][0]["containerPort"]
    for service in services.values():
        selector = service["spec"]["selector"]
        assert any(
            selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
            for w in _workloads()
        ), service["metadata"]["name"]
    config = _kind("ConfigMap")[0]["data"]
    assert config["GATEWAY_PORT"] == "8080"
    assert config["BACKOFFICE_PORT"] == "8082"
    assert config["GATEWAY_URL"] == "http://switchyard-gateway:8080"


def test_k8s_pdbs_select_existing_workloads() -> None:
    for pdb in _kind("PodDisruptionBudget"):
        selector = pdb["spec"]["selector"]["matchLabels"]
        matches = [
            w
            for w in _workloads()
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matches) == 1, pdb["metadata"]["name"]
        replicas = matches[0]["spec"]["replicas"]
        if "maxUnavailable" in pdb["spec"]:
            assert pdb["spec"]["maxUnavailable"] < replicas
        else:
            assert pdb["spec"]["minAvailable"] < replicas


def test_k8s_runs_non_root_pinned_images_and_one_outbox_per_wal() -> None:
    for workload in _workloads():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        for container in pod["containers"]:
            assert container["image"] == "switchyard:0.1.0"
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
    (gateway,) = _kind("StatefulSet")
    containers = {c["name"]: c for c in gateway["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"gateway", "outbox"}
    gateway_env = {e["name"] for e in containers["gateway"].get("env", [])}
    config_keys = set(_kind("ConfigMap")[0]["data"])
    assert "KAFKA_BOOTSTRAP_SERVERS" not in gateway_env | config_keys, "the gateway runs no outbox"
    outbox_env = {e["name"] for e in containers["outbox"]["env"]}
    assert "KAFKA_BOOTSTRAP_SERVERS" in outbox_env
    assert {m["name"] for m in containers["outbox"]["volumeMounts"]} >= {"wal"}


def test_k8s_settings_are_declared() -> None:
    declared = _declared_settings()
    config = _kind("ConfigMap")[0]["data"]
    env_keys = {key for key in config if re.fullmatch(r"[A-Z_][A-Z0-9_]*", key)}
    assert env_keys - declared == set()
    for workload in _workloads():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            names = {e["name"] for e in container.get("env", [])}
            assert names - declared - NOT_SETTINGS == set(), container["name"]


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in K8S.glob("*.yaml")))
def test_k8s_yaml_has_no_tabs_or_latest_tags(path: str) -> None:
    text = (ROOT / path).read_text()
    assert "\t" not in text
    assert ":latest" not in text


def test_secret_keys_referenced_are_documented() -> None:
    referenced = set()
    for workload in _workloads():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            for variable in container.get("env", []):
                secret = variable.get("valueFrom", {}).get("secretKeyRef")
                if secret:
                    assert secret["name"] == "switchyard-secrets"
                    referenced.add(secret["key"])
    deployment_doc = (ROOT / "docs" / "DEPLOYMENT.md").read_text()
    for key in referenced:
        assert f"--from-literal={key}=" in deployment_doc, key


def test_paths_in_this_module_exist() -> None:
    for path in (COMPOSE, ROOT / "Dockerfile", ROOT / ".dockerignore", K8S):
        assert Path(path).exists(), path
