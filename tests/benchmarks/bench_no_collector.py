"""Request latency of an instrumented service with and without a Collector listening.

Starts ``opentelemetry-instrument uvicorn`` on the test app twice per round: once
exporting OTLP/HTTP to a running otelcol-flux (built by
deploy/local/build-binaries.sh) on loopback, once to a port where nothing
listens. Each run sends the same sequential requests (one asyncio Redis GET per
request) and reports p50/p99 client latency and the service's resident memory.
Rounds alternate the two cases so machine noise hits both.

    python tests/benchmarks/bench_no_collector.py [--rounds 3] [--requests 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import subprocess

from tests.support.servers import free_port, port_open, start_redis, wait_until
from tests.support.service import instrumented_uvicorn


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


COLLECTOR_CONFIG = """
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
exporters:
  debug:
    verbosity: basic
service:
  pipelines:
    traces: {{receivers: [otlp], exporters: [debug]}}
    metrics: {{receivers: [otlp], exporters: [debug]}}
  telemetry:
    metrics:
      level: none
"""


def start_collector(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    build = Path(__file__).resolve().parents[2] / "deploy" / "local" / "build-binaries.sh"
    output = subprocess.run(["bash", str(build)], capture_output=True, text=True, check=True).stdout
    binary = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)["otelcol-flux"]
    port = free_port()
    config = workdir / "collector.yaml"
    config.write_text(COLLECTOR_CONFIG.format(port=port))
    process = subprocess.Popen(
        [binary, "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "collector.log").open("wb"),
    )
    wait_until(lambda: port_open(port), 30, "otelcol-flux")
    return process, f"http://127.0.0.1:{port}"


def run_case(endpoint: str, redis_url: str, requests: int, workdir: Path) -> dict[str, float]:
    env = {
        "OTEL_SERVICE_NAME": "bench",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",
        "FLUX_SHUTDOWN_TIMEOUT_S": "2",
        "FLUX_REDIS_URL": redis_url,
    }
    latencies = []
    with (
        instrumented_uvicorn(
            "tests.integration.apps.plain_app:app", env, workdir / "service.log"
        ) as service,
        httpx.Client(base_url=service.url) as http,
    ):
        for number in range(200):
            http.get(f"/items/{number}")
        for number in range(requests):
            started = time.perf_counter()
            http.get(f"/items/{number}")
            latencies.append((time.perf_counter() - started) * 1000)
        memory = resident_mib(service.process.pid)
    latencies.sort()
    return {
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99)],
        "rss_mib": memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        workdir = Path(directory)
        redis = start_redis(workdir / "redis")
        collector, endpoint = start_collector(workdir)
        results: dict[str, list[dict[str, float]]] = {"collector": [], "no collector": []}
        try:
            for _ in range(args.rounds):
                results["collector"].append(run_case(endpoint, redis.url, args.requests, workdir))
                dead = f"http://127.0.0.1:{free_port()}"
                results["no collector"].append(run_case(dead, redis.url, args.requests, workdir))
        finally:
            redis.stop()
            collector.terminate()
            collector.wait(timeout=10)

    print(f"{args.rounds} rounds x {args.requests} sequential requests")
    print(f"{'case':<14} {'p50 ms':>18} {'p99 ms':>18} {'RSS MiB':>16}")
    for case, runs in results.items():
        cells = []
        for key in ("p50_ms", "p99_ms", "rss_mib"):
            values = [run[key] for run in runs]
            cells.append(f"{statistics.median(values):7.3f} ({min(values):.2f}-{max(values):.2f})")
        print(f"{case:<14} {cells[0]:>18} {cells[1]:>18} {cells[2]:>16}")


if __name__ == "__main__":
    main()
