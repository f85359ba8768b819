"""deploy/kubernetes, checked offline: no cluster runs here.

`kubectl kustomize` renders the base and every overlay. Each object is checked
against the Kubernetes schemas that kubernetes-validate ships, each Collector
and Jaeger config inside a ConfigMap must pass the binaries' `validate`, and the
PrometheusRule's groups must pass `promtool check rules`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.integration.deploy.conftest import LOCAL_COLLECTOR, ROOT, block, load_yaml, run

KUBERNETES_DIR = ROOT / "deploy" / "kubernetes"
KUSTOMIZATIONS = [path.parent for path in sorted(KUBERNETES_DIR.glob("**/kustomization.yaml"))]
KUBERNETES_VERSION = "1.33.0"
# Prometheus Operator kinds: kubernetes-validate has no schema for custom resources.
CUSTOM_KINDS = {"PodMonitor", "PrometheusRule"}
WORKLOAD_KINDS = {"Deployment", "DaemonSet", "StatefulSet"}
# The gateway's exporter, absent from otelcol-flux (see collector-gateway.yaml).
LOADBALANCING = "loadbalancing"


def _kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is missing; run scripts/setup.sh, which installs it")
    return found


def render(directory: Path) -> list[dict[str, Any]]:
    result = run([_kubectl(), "kustomize", str(directory)])
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _id(directory: Path) -> str:
    return str(directory.relative_to(KUBERNETES_DIR))


@pytest.fixture(scope="module", params=KUSTOMIZATIONS, ids=_id)
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    directory: Path = request.param
    return render(directory)


def _workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] in WORKLOAD_KINDS]


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    return containers


def _config_maps(objects: list[dict[str, Any]]) -> dict[str, str]:
    """Return each ConfigMap's config.yaml by the ConfigMap's name without its hash."""
    maps = {}
    for obj in objects:
        if obj["kind"] == "ConfigMap" and "config.yaml" in obj.get("data", {}):
            name = obj["metadata"]["name"].rsplit("-", 1)[0]
            maps[name] = obj["data"]["config.yaml"]
    return maps


def test_base_and_overlay_found() -> None:
    assert {_id(path) for path in KUSTOMIZATIONS} >= {"base", "overlays/example"}


def test_objects_match_schemas(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        if obj["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_only_known_custom_kinds(objects: list[dict[str, Any]]) -> None:
    kinds = {obj["kind"] for obj in objects if "." in obj["apiVersion"].split("/")[0]}

    assert kinds <= CUSTOM_KINDS


def test_schema_check_rejects_bad_object() -> None:
    """Guards the schema test: an invalid field type must raise."""
    broken = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "broken"},
        "spec": {"replicas": "three", "selector": {}, "template": {}},
    }

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_workload_has_probes_and_resources(objects: list[dict[str, Any]]) -> None:
    for workload in _workloads(objects):
        for container in _containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert "readinessProbe" in container, where
            assert "livenessProbe" in container, where
            assert set(container["resources"]["requests"]) == {"cpu", "memory"}, where
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}, where


def test_no_secret_objects_or_literal_secrets(objects: list[dict[str, Any]]) -> None:
    """Secrets are references to objects the user creates, never values in a manifest."""
    assert [obj for obj in objects if obj["kind"] == "Secret"] == []
    for workload in _workloads(objects):
        for container in _containers(workload):
            for variable in container.get("env", []):
                if any(word in variable["name"] for word in ("KEY", "PASSWORD", "TOKEN")):
                    assert "valueFrom" in variable, variable["name"]


def test_service_scales_with_hpa(objects: list[dict[str, Any]]) -> None:
    targets = {
        obj["spec"]["scaleTargetRef"]["name"]
        for obj in objects
        if obj["kind"] == "HorizontalPodAutoscaler"
    }

    assert "flux-auth" in targets


def test_agent_is_a_daemonset(objects: list[dict[str, Any]]) -> None:
    names = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "DaemonSet"}

    assert names == {"otelcol-agent"}


def test_jaeger_image_is_2_12(objects: list[dict[str, Any]]) -> None:
    jaeger = next(
        obj
        for obj in objects
        if obj["metadata"]["name"] == "jaeger" and obj["kind"] == "Deployment"
    )

    assert _containers(jaeger)[0]["image"].startswith("jaegertracing/jaeger:2.12.")


def _gateway_stand_in(text: str) -> str:
    """Replace the loadbalancing exporters with OTLP exporters that otelcol-flux has.

    Everything else in the gateway config is then validated by otelcol-flux; the
    loadbalancing blocks are checked by test_gateway_routes below.
    """
    config = yaml.safe_load(text)
    renamed = {}
    for name in list(config["exporters"]):
        if name.startswith(LOADBALANCING):
            stand_in = "otlp_grpc" + name[len(LOADBALANCING) :]
            renamed[name] = stand_in
            hostname = config["exporters"].pop(name)["resolver"]["dns"]["hostname"]
            config["exporters"][stand_in] = {
                "endpoint": f"{hostname}:4317",
                "tls": {"insecure": True},
            }
    for pipeline in config["service"]["pipelines"].values():
        pipeline["exporters"] = [renamed.get(name, name) for name in pipeline["exporters"]]
    return yaml.safe_dump(config)


@pytest.mark.stack
def test_collector_configs_validate(
    objects: list[dict[str, Any]], built_binaries: dict[str, Path], tmp_path: Path
) -> None:
    configs = {
        name: text for name, text in _config_maps(objects).items() if name.startswith("otelcol")
    }
    configs["otelcol-gateway"] = _gateway_stand_in(configs["otelcol-gateway"])

    assert set(configs) == {
        "otelcol-agent",
        "otelcol-gateway",
        "otelcol-sampler",
        "otelcol-spanmetrics",
    }
    for name, text in configs.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        result = run([str(built_binaries["otelcol-flux"]), "validate", f"--config={path}"])
        assert result.returncode == 0, f"{name}: {result.stderr}"


@pytest.mark.stack
def test_jaeger_config_validates(
    objects: list[dict[str, Any]], built_binaries: dict[str, Path], tmp_path: Path
) -> None:
    path = tmp_path / "jaeger.yaml"
    path.write_text(_config_maps(objects)["jaeger"])

    result = run([str(built_binaries["jaeger"]), "validate", f"--config={path}"])

    assert result.returncode == 0, result.stderr


def test_gateway_routes(objects: list[dict[str, Any]]) -> None:
    """Spans by trace ID to the sampling tier; spans and metrics by service to span metrics."""
    gateway = yaml.safe_load(_config_maps(objects)["otelcol-gateway"])
    exporters = gateway["exporters"]
    pipelines = gateway["service"]["pipelines"]
    by_trace = exporters["loadbalancing/by_trace"]
    by_service = exporters["loadbalancing/by_service"]

    assert by_trace["routing_key"] == "traceID"
    assert by_trace["resolver"]["dns"]["hostname"] == "otelcol-sampler-headless"
    assert by_service["routing_key"] == "service"
    assert by_service["resolver"]["dns"]["hostname"] == "otelcol-spanmetrics-headless"
    assert pipelines["traces"]["exporters"] == [
        "loadbalancing/by_trace",
        "loadbalancing/by_service",
    ]
    assert pipelines["metrics"]["exporters"] == ["loadbalancing/by_service"]


def test_headless_services_exist(objects: list[dict[str, Any]]) -> None:
    headless = {
        obj["metadata"]["name"]
        for obj in objects
        if obj["kind"] == "Service" and obj["spec"].get("clusterIP") == "None"
    }

    assert headless == {"otelcol-sampler-headless", "otelcol-spanmetrics-headless"}


@pytest.mark.parametrize(
    ("config_map", "dotted"),
    [
        ("otelcol-agent", "processors.redaction"),
        ("otelcol-sampler", "processors.tail_sampling"),
        ("otelcol-spanmetrics", "connectors.span_metrics"),
    ],
)
def test_shared_block_matches_local_config(
    objects: list[dict[str, Any]], config_map: str, dotted: str
) -> None:
    """Blocks that must behave as in the local stack are kept equal to it."""
    tier = yaml.safe_load(_config_maps(objects)[config_map])

    assert block(tier, dotted) == block(load_yaml(LOCAL_COLLECTOR), dotted), (
        f"{dotted} in {config_map} differs from {LOCAL_COLLECTOR}; copy it over"
    )


def test_prometheus_rule_passes_promtool(objects: list[dict[str, Any]], tmp_path: Path) -> None:
    rule = next(obj for obj in objects if obj["kind"] == "PrometheusRule")
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))

    result = run(["promtool", "check", "rules", str(path)])

    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_rule_has_local_groups(objects: list[dict[str, Any]]) -> None:
    rule = next(obj for obj in objects if obj["kind"] == "PrometheusRule")
    local = load_yaml(ROOT / "collector-config" / "rules" / "flux-alerts.yml")

    assert rule["spec"]["groups"] == local["groups"]
