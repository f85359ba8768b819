"""Render the deployment files that derive from the local stack's configs.

The compose deployment and the Kubernetes manifests use the same Prometheus
config, alerting rules and nginx rules as ``otel-flux stack up``. Files that
cannot be mounted as they are (Prometheus does not expand variables in scrape
targets, and Kubernetes wants the rules inside an object) are rendered here
from the one source and committed. The tests fail when a committed file differs
from its rendering; ``python -m otel_flux.stack.deploy`` rewrites them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from otel_flux.stack import nginx

# Compose network: nginx has a fixed address, which the service instances trust.
COMPOSE_SUBNET = "172.28.0.0/24"
COMPOSE_NGINX_ADDRESS = "172.28.0.10"

# Local scrape targets in collector-config/prometheus.yml and their compose names.
_COMPOSE_TARGETS = {
    '"127.0.0.1:8889"': '"collector:8889"',
    '"127.0.0.1:8888"': '"collector:8888"',
    '"127.0.0.1:14269"': '"jaeger:14269"',
    '"127.0.0.1:9090"': '"localhost:9090"',
}
_LOCAL_RULES = "  - rules/*.yml"
_COMPOSE_RULES = "  - /etc/prometheus/rules/*.yml"
_RULE_FILE = Path("collector-config/rules/flux-alerts.yml")


def _generated_header(source: str) -> str:
    return (
        f"# Generated from {source} by `python -m otel_flux.stack.deploy`;\n"
        "# edit the source and rerun it. A test fails while this file is stale.\n"
    )


def compose_prometheus(root: Path) -> str:
    """Return the local Prometheus config with the compose service names as targets."""
    source = "collector-config/prometheus.yml"
    text = (root / source).read_text()
    for local, compose in _COMPOSE_TARGETS.items():
        if text.count(local) != 1:
            raise ValueError(
                f"{source} must contain the scrape target {local} exactly once, so that the "
                f"compose deployment can point it at {compose}; restore that target"
            )
        text = text.replace(local, compose)
    if text.count(_LOCAL_RULES) != 1:
        raise ValueError(f"{source} must load its rules with the line {_LOCAL_RULES.strip()!r}")
    text = text.replace(_LOCAL_RULES, _COMPOSE_RULES)
    return _generated_header(source) + text


def compose_nginx() -> str:
    """Return nginx.conf for the compose deployment: one upstream name, all replicas."""
    return nginx.render_config(
        nginx.NginxLayout(
            listen="8000",
            # Docker's DNS returns one address per replica; nginx resolves them at start.
            upstreams=["service:8000"],
            pid_file="/var/run/nginx.pid",
            access_log="/dev/stdout",
            error_log="stderr",
            temp_dir="/var/cache/nginx",
        )
    )


def prometheus_rule(root: Path) -> str:
    """Return a PrometheusRule object whose groups are collector-config/rules/flux-alerts.yml."""
    rules = (root / _RULE_FILE).read_text()
    body = "".join(
        f"  {line}" if line.strip() else line for line in rules.splitlines(keepends=True)
    )
    return (
        _generated_header(str(_RULE_FILE))
        + "apiVersion: monitoring.coreos.com/v1\n"
        + "kind: PrometheusRule\n"
        + "metadata:\n"
        + "  name: flux-alerts\n"
        + "  labels:\n"
        + "    app.kubernetes.io/part-of: otel-flux\n"
        + "spec:\n"
        + body
    )


def rendered_files(root: Path) -> dict[Path, str]:
    """Return every generated deployment file by its path under root."""
    return {
        root / "deploy/compose/prometheus.yml": compose_prometheus(root),
        root / "deploy/compose/nginx.conf": compose_nginx(),
        root / "deploy/kubernetes/base/prometheus/flux-alerts.yaml": prometheus_rule(root),
    }


def main() -> int:
    root = Path(__file__).resolve().parents[2]
    for path, text in rendered_files(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
