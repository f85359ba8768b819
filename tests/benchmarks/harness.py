"""Side-by-side benchmark of the sample service: U, no telemetry; S, the upstream
OpenTelemetry distribution; F, otel_flux.

Run from the repository root:

    PYTHONPATH=. python tests/benchmarks/harness.py --rounds 5

Each round starts every variant in turn (the order rotates per round) pinned to
CPU 0, with wrk, Redis, Jaeger and the Collector on CPU 1, and measures:

- startup: seconds from spawning the process to the first 200 from /health;
- saturation: wrk with one thread and 32 connections, requests per second and
  server CPU time per request from /proc/PID/stat;
- latency at fixed rates: a constant-rate client at fractions of U's
  saturation rate (measured once before the rounds), p50 and p99;
- resident memory (VmRSS) after the load, and its peak (VmHWM).

Every request is ``GET /api/files/2``, one Redis HGET. The security middleware
is off for all three variants unless ``--security`` keeps it on for all three.
S and F export OTLP/gRPC to the same Collector. The figures print as a table
and go to a JSON file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvloop

from otel_flux.stack import config as stack_config
from otel_flux.stack import health, observe
from tests.benchmarks import bench_processes as bp
from tests.benchmarks.paced_client import run_paced
from tests.e2e.pipeline.stackctl import metric_sum, scrape
from tests.support.stack import free_ports

PATH = "/api/files/2"
VARIANTS = ("U", "S", "F")
# Metrics in the report: key, label and number format.
METRICS = (
    ("rps", "throughput at saturation (req/s)", "{:,.0f}"),
    ("cpu_us", "server CPU per request (us)", "{:,.0f}"),
    ("core_share", "share of its core used at saturation", "{:.2f}"),
    ("startup_s", "startup (s)", "{:.2f}"),
    ("rss_mib", "resident memory after load (MiB)", "{:.1f}"),
    ("hwm_mib", "peak resident memory (MiB)", "{:.1f}"),
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--variants", default="U,S,F", help="variants to run (default U,S,F)")
    parser.add_argument("--warmup", type=float, default=2.0, help="wrk warm-up seconds")
    parser.add_argument("--saturation", type=float, default=10.0, help="wrk seconds per run")
    parser.add_argument(
        "--latency", type=float, default=10.0, help="seconds per constant-rate phase"
    )
    parser.add_argument(
        "--fractions",
        default="0.5,0.1",
        help="constant rates as fractions of U's saturation rate (default 0.5,0.1)",
    )
    parser.add_argument("--connections", type=int, default=32, help="connections (default 32)")
    parser.add_argument("--security", action="store_true", help="keep the middleware on")
    parser.add_argument(
        "--soak",
        type=float,
        default=300.0,
        help="seconds of F at saturation whose spans are counted at the Collector "
        "(default 300; 0 skips)",
    )
    parser.add_argument("--bench-venv", type=Path, default=bp.default_bench_venv())
    parser.add_argument(
        "--f-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set an environment variable for F only; repeatable",
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    parser.add_argument("--json", type=Path, default=Path("results") / f"bench-{stamp}.json")
    args = parser.parse_args(argv)
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(args.variants) - set(VARIANTS)
    if unknown or "U" not in args.variants:
        parser.error(f"--variants must include U and use only {', '.join(VARIANTS)}")
    args.fractions = [float(f) for f in args.fractions.split(",") if f.strip()]
    args.f_environ = {}
    for item in args.f_env:
        name, equals, value = item.partition("=")
        if not equals or not name:
            parser.error(f"invalid --f-env {item!r}: expected NAME=VALUE")
        args.f_environ[name] = value
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def measure(
    variant: str,
    config: stack_config.StackConfig,
    args: argparse.Namespace,
    bench_bin: Path,
    rates: Sequence[float],
) -> dict[str, Any]:
    """Start one variant, load it, and return its figures."""
    port = free_ports(1)[0]
    log = config.run_dir / f"service-{variant}.log"
    extra = args.f_environ if variant == "F" else None
    service = bp.start_service(variant, port, config, bench_bin, args.security, log, extra)
    url = f"http://127.0.0.1:{port}{PATH}"
    try:
        if args.warmup > 0:
            bp.run_wrk(url, args.warmup, args.connections)
        cpu_before = bp.cpu_seconds(service.pid)
        wrk = bp.run_wrk(url, args.saturation, args.connections)
        cpu_used = bp.cpu_seconds(service.pid) - cpu_before
        result: dict[str, Any] = {
            "variant": variant,
            "startup_s": service.startup_s,
            "rps": wrk.requests_per_s,
            "cpu_us": cpu_used * 1e6 / max(1, wrk.requests),
            # Below 1 when other processes took CPU 0 away from the service.
            "core_share": cpu_used / args.saturation,
            "wrk_errors": wrk.non_2xx + wrk.socket_errors,
            "paced": [],
        }
        for rate in rates:
            cpu_before = bp.cpu_seconds(service.pid)
            paced = uvloop.run(run_paced("127.0.0.1", port, PATH, rate, args.latency))
            cpu_used = bp.cpu_seconds(service.pid) - cpu_before
            result["paced"].append(
                {
                    "rate": rate,
                    "achieved": paced.achieved_rate,
                    "completed": paced.completed,
                    "scheduled": paced.scheduled,
                    "errors": paced.errors,
                    "p50_ms": paced.p50_ms,
                    "p99_ms": paced.p99_ms,
                    "cpu_us": cpu_used * 1e6 / max(1, paced.completed),
                }
            )
        memory = bp.memory_kib(service.pid)
        result["rss_mib"] = memory["VmRSS"] / 1024
        result["hwm_mib"] = memory["VmHWM"] / 1024
        return result
    finally:
        bp.stop_service(service.process)


# Spans F exports per GET /api/files/2: the server span and the Redis HGET.
F_SPANS_PER_REQUEST = 2
# Lines the SDK logs when the span queue is full (spans dropped) or an export fails.
_LOSS_MARKERS = ("Queue full", "Failed to export")


def collector_spans(config: stack_config.StackConfig) -> dict[str, float]:
    """Return the Collector's span counters: accepted and refused by its receivers."""
    text = scrape(f"http://127.0.0.1:{config.port(stack_config.COLLECTOR_METRICS_PORT)}")
    totals = {}
    for key in ("accepted", "refused"):
        name = f"otelcol_receiver_{key}_spans"
        # Counter names carry _total in some Collector versions' own metrics.
        totals[key] = metric_sum(text, name) + metric_sum(text, f"{name}_total")
    return totals


def soak(
    config: stack_config.StackConfig, args: argparse.Namespace, bench_bin: Path
) -> dict[str, Any]:
    """Load F at saturation for ``args.soak`` seconds and count its spans at the Collector.

    Every completed request must arrive as F_SPANS_PER_REQUEST spans. The
    Collector may count a few more: the sample service's start-up Redis calls
    and requests still in flight when wrk stops. The SDK logs a line when its
    span queue overflows or an export fails, so the log is searched as well.
    """
    before = collector_spans(config)
    port = free_ports(1)[0]
    log = config.run_dir / "service-F-soak.log"
    service = bp.start_service("F", port, config, bench_bin, args.security, log, args.f_environ)
    try:
        wrk = bp.run_wrk(f"http://127.0.0.1:{port}{PATH}", args.soak, args.connections)
    finally:
        # SIGTERM: the service flushes its last batch before it exits.
        bp.stop_service(service.process)
    after = collector_spans(config)
    for _ in range(20):
        time.sleep(0.5)
        latest = collector_spans(config)
        if latest == after:
            break
        after = latest
    expected = F_SPANS_PER_REQUEST * wrk.requests
    accepted = after["accepted"] - before["accepted"]
    log_text = log.read_text(errors="replace")
    return {
        "seconds": args.soak,
        "requests": wrk.requests,
        "rps": wrk.requests_per_s,
        "errors": wrk.non_2xx + wrk.socket_errors,
        "expected_spans": expected,
        "accepted_spans": accepted,
        "refused_spans": after["refused"] - before["refused"],
        "missing_spans": max(0.0, expected - accepted),
        "loss_lines_in_log": sum(log_text.count(marker) for marker in _LOSS_MARKERS),
    }


def calibrate(config: stack_config.StackConfig, args: argparse.Namespace) -> float:
    """Return U's saturation rate from one short wrk run after a warm-up."""
    port = free_ports(1)[0]
    log = config.run_dir / "service-U-calibration.log"
    service = bp.start_service("U", port, config, Path(), args.security, log)
    try:
        url = f"http://127.0.0.1:{port}{PATH}"
        bp.run_wrk(url, max(1.0, args.warmup), args.connections)
        return bp.run_wrk(url, max(2.0, args.saturation / 2), args.connections).requests_per_s
    finally:
        bp.stop_service(service.process)


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(runs: list[dict[str, Any]], variants: Sequence[str], rounds: int) -> dict[str, Any]:
    """Return per-variant medians with ranges, and per-round ratios F/U and F/S."""
    by_variant: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for run in runs:
        by_variant[run["variant"]].append(run)
    summary: dict[str, Any] = {"variants": {}, "ratios": {}}
    for variant, items in by_variant.items():
        figures = {key: spread([item[key] for item in items]) for key, _, _ in METRICS}
        for index in range(len(items[0]["paced"])):
            for key in ("p50_ms", "p99_ms", "achieved", "cpu_us"):
                values = [item["paced"][index][key] for item in items]
                figures[f"paced{index}_{key}"] = spread(values)
        summary["variants"][variant] = figures
    for base in ("U", "S"):
        if "F" not in by_variant or base not in by_variant:
            continue
        ratios: dict[str, Any] = {}
        keys = [key for key, _, _ in METRICS]
        keys += [k for k in summary["variants"]["F"] if k.startswith("paced")]
        for key in keys:
            per_round = [
                _value(f, key) / _value(b, key)
                for f, b in zip(by_variant["F"], by_variant[base], strict=True)
                if _value(b, key)
            ]
            if per_round:
                ratios[key] = spread(per_round)
        summary["ratios"][f"F/{base}"] = ratios
    if all(v in by_variant for v in VARIANTS):
        # CPU per request that each distribution adds to U, F's over S's, per round.
        added = [
            (f["cpu_us"] - u["cpu_us"]) / (s["cpu_us"] - u["cpu_us"])
            for u, s, f in zip(by_variant["U"], by_variant["S"], by_variant["F"], strict=True)
            if s["cpu_us"] > u["cpu_us"]
        ]
        if added:
            summary["added_cpu_f_over_s"] = spread(added)
    return summary


def _value(run: dict[str, Any], key: str) -> float:
    if key.startswith("paced"):
        index, _, name = key.removeprefix("paced").partition("_")
        return float(run["paced"][int(index)][name])
    return float(run[key])


def _cell(figure: dict[str, float], fmt: str) -> str:
    low, high = fmt.format(figure["min"]), fmt.format(figure["max"])
    return f"{fmt.format(figure['median'])} ({low}-{high})"


def format_report(report: dict[str, Any]) -> str:
    summary, rates = report["summary"], report["rates"]
    variants = list(summary["variants"])
    labels = [(key, label, fmt) for key, label, fmt in METRICS]
    for index, rate in enumerate(rates):
        labels.append((f"paced{index}_p50_ms", f"p50 at {rate:,.0f} req/s (ms)", "{:.2f}"))
        labels.append((f"paced{index}_p99_ms", f"p99 at {rate:,.0f} req/s (ms)", "{:.2f}"))
        labels.append((f"paced{index}_achieved", f"achieved of {rate:,.0f} req/s", "{:,.0f}"))
        labels.append((f"paced{index}_cpu_us", f"CPU/request at {rate:,.0f} req/s (us)", "{:,.0f}"))
    lines = [
        f"machine: {report['machine']}, load average at the end {' '.join(report['load_average'])}",
        f"rounds: {report['rounds']}, request GET {PATH}, security middleware "
        f"{'on' if report['security'] else 'off'}, U saturation {report['u_calibration']:,.0f} "
        "req/s in calibration",
        "each cell: median (min-max) over rounds",
        "",
    ]
    width = max(len(label) for _, label, _ in labels)
    header = f"{'metric':<{width}}  " + "  ".join(f"{v:<26}" for v in variants)
    ratio_names = list(summary["ratios"])
    header += "  " + "  ".join(f"{name:<20}" for name in ratio_names)
    lines += [header, "-" * len(header)]
    for key, label, fmt in labels:
        cells = [_cell(summary["variants"][v][key], fmt) for v in variants]
        ratios = [
            _cell(summary["ratios"][name][key], "{:.2f}") if key in summary["ratios"][name] else "-"
            for name in ratio_names
        ]
        lines.append(
            f"{label:<{width}}  "
            + "  ".join(f"{c:<26}" for c in cells)
            + "  "
            + "  ".join(f"{r:<20}" for r in ratios)
        )
    added = summary.get("added_cpu_f_over_s")
    if added:
        lines.append("")
        lines.append("CPU per request added to U, F's over S's: " + _cell(added, "{:.2f}"))
    completeness = report.get("completeness")
    if completeness:
        lines.append("")
        lines.append(
            f"F span completeness over {completeness['seconds']:.0f} s at saturation: "
            f"{completeness['requests']:,} requests ({completeness['rps']:,.0f} req/s), "
            f"{completeness['expected_spans']:,} spans expected, "
            f"{completeness['accepted_spans']:,.0f} accepted by the Collector, "
            f"{completeness['refused_spans']:,.0f} refused, "
            f"{completeness['missing_spans']:,.0f} missing, "
            f"{completeness['loss_lines_in_log']} SDK drop or export-failure lines in the log"
        )
    if report["telemetry"]:
        lines.append("")
        for variant, operations in report["telemetry"].items():
            lines.append(f"traces in Jaeger for {variant}: {operations or 'none'}")
    return "\n".join(lines)


def traces_in_jaeger(config: stack_config.StackConfig, variant: str) -> dict[str, int]:
    """Return the traces per operation that a variant's run left in Jaeger.

    Asked right after the run, because Jaeger's in-memory store drops the
    oldest traces once later runs fill it.
    """
    jaeger = f"http://127.0.0.1:{config.port(stack_config.JAEGER_QUERY_PORT)}"
    found: dict[str, int] = {}

    def arrived() -> bool:
        nonlocal found
        found = observe.jaeger_traces_per_operation(jaeger, f"flux-bench-{variant}", limit=20)
        return any(found.values())

    health.wait_until(arrived, 15, interval=1.0)
    return found


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    bp.require_tools()
    # The harness, the paced client and every child without its own pinning
    # run on the load CPU.
    os.sched_setaffinity(0, {bp.LOAD_CPU})
    bench_bin = bp.ensure_bench_venv(args.bench_venv) if "S" in args.variants else Path()

    run_dir = Path(tempfile.mkdtemp(prefix="flux-bench-"))
    ports = dict(
        zip(
            (s.env for s in stack_config.PORT_SETTINGS),
            free_ports(len(stack_config.PORT_SETTINGS)),
            strict=True,
        )
    )
    config = bp.pipeline_config(run_dir, ports)
    built = bp.built_binaries(config)
    print(f"run directory (logs): {run_dir}", file=sys.stderr)
    bp.start_pipeline(config, built)
    try:
        u_rate = calibrate(config, args)
        rates = [u_rate * fraction for fraction in args.fractions]
        print(f"U saturation {u_rate:,.0f} req/s; constant rates {rates}", file=sys.stderr)
        runs = []
        telemetry: dict[str, dict[str, int]] = {}
        for round_index in range(args.rounds):
            shift = round_index % len(args.variants)
            order = args.variants[shift:] + args.variants[:shift]
            for variant in order:
                result = measure(variant, config, args, bench_bin, rates)
                result["round"] = round_index + 1
                runs.append(result)
                print(
                    f"round {round_index + 1} {variant}: {result['rps']:,.0f} req/s, "
                    f"{result['cpu_us']:,.0f} us/req, startup {result['startup_s']:.2f} s",
                    file=sys.stderr,
                )
                if variant != "U" and variant not in telemetry:
                    telemetry[variant] = traces_in_jaeger(config, variant)
        completeness = None
        if args.soak > 0 and "F" in args.variants:
            completeness = soak(config, args, bench_bin)
    finally:
        bp.stop_pipeline(config)

    report = {
        "machine": machine(),
        # Other processes on the machine skew the figures, and the load average
        # at the end shows how busy it was.
        "load_average": Path("/proc/loadavg").read_text().split()[:3],
        "f_environ": args.f_environ,
        "rounds": args.rounds,
        "security": args.security,
        "u_calibration": u_rate,
        "rates": rates,
        "runs": runs,
        "summary": summarise(runs, args.variants, args.rounds),
        "telemetry": telemetry,
        "completeness": completeness,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(format_report(report))
    print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
