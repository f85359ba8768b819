"""``otel-flux report``: print a service's monitor figures and chart its latency history.

The command fetches ``{url}/_flux/monitor`` and ``{url}/_flux/monitor/history``
with the admin bearer token, prints a table per route (count, error rate,
p50/p95/p99), the Redis latency and the alerts, and writes a PNG chart of p50,
p95 and p99 over the history. The chart needs matplotlib, the ``report`` extra.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

_logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_PREFIX = "/_flux"


class ReportError(Exception):
    """The admin endpoint could not be read."""


def register(subparsers: Any) -> None:
    """Add the ``report`` command to the ``otel-flux`` parser."""
    parser = subparsers.add_parser(
        "report",
        help="Print a running service's monitor figures and chart its latency.",
        description="Fetch the admin JSON of a running service and summarize it.",
    )
    parser.add_argument(
        "--url", default=DEFAULT_URL, help=f"base URL of the service (default {DEFAULT_URL})"
    )
    parser.add_argument(
        "--token",
        help="admin bearer token (default: the FLUX_ADMIN_TOKEN environment variable)",
    )
    parser.add_argument("--minutes", type=float, default=60.0, help="history to chart, minutes")
    parser.add_argument(
        "--chart", type=Path, default=Path("flux-latency.png"), help="PNG file to write"
    )
    parser.add_argument("--no-chart", action="store_true", help="print the table only")
    parser.add_argument("--timeout", type=float, default=5.0, help="HTTP timeout, seconds")
    parser.set_defaults(func=run)


def fetch_json(url: str, token: str, timeout_s: float) -> dict[str, Any]:
    """GET a JSON document with the bearer token."""
    if not url.startswith(("http://", "https://")):
        raise ReportError(f"invalid URL {url!r}: expected http:// or https://")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 - scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - scheme checked above
            document: dict[str, Any] = json.load(response)
            return document
    except urllib.error.HTTPError as exc:
        hint = {
            401: "check --token or FLUX_ADMIN_TOKEN",
            404: "is FLUX_ADMIN_TOKEN set on the service?",
        }.get(exc.code, "")
        raise ReportError(f"{url} returned HTTP {exc.code}; {hint}".rstrip("; ")) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ReportError(f"cannot reach {url}: {exc}") from None
    except json.JSONDecodeError:
        raise ReportError(f"{url} did not return JSON") from None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}%"


def format_table(monitor: dict[str, Any]) -> str:
    """Format the summary of the history (or the current interval when it is empty)."""
    summary = monitor["summary"]
    window = summary if summary.get("intervals") else monitor["current"]
    lines = [f"{'route':40} {'count':>8} {'errors':>8} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}"]
    for route in window["routes"]:
        latency = route["latency_ms"]
        name = f"{route['method']} {route['route']}"[:40]
        lines.append(
            f"{name:40} {route['requests']:8d} {_pct(route['error_rate_pct']):>8} "
            f"{_ms(latency.get('p50')):>9} {_ms(latency.get('p95')):>9} "
            f"{_ms(latency.get('p99')):>9}"
        )
    overall = window["latency_ms"]
    requests = window["requests"]
    lines.append(
        f"{'all routes':40} {requests['total']:8d} {_pct(requests['error_rate_pct']):>8} "
        f"{_ms(overall.get('p50')):>9} {_ms(overall.get('p95')):>9} {_ms(overall.get('p99')):>9}"
    )

    redis = window["redis"]
    lines.append("")
    lines.append(f"{'redis command':40} {'count':>8} {'failed':>8} {'p50 ms':>9} {'p99 ms':>9}")
    for command in redis["commands"]:
        latency = command["latency_ms"]
        lines.append(
            f"{command['command'][:40]:40} {command['operations']:8d} {command['failed']:8d} "
            f"{_ms(latency.get('p50')):>9} {_ms(latency.get('p99')):>9}"
        )

    lines.append("")
    for alert in summary["alerts"]:
        value = "-" if alert["value"] is None else f"{alert['value']:.4g}"
        lines.append(
            f"{alert['name']:28} {alert['state']:7} value {value} {alert['unit']}, "
            f"threshold {alert['threshold']:g} {alert['unit']}"
        )
    return "\n".join(lines)


def write_chart(intervals: list[dict[str, Any]], path: Path) -> None:
    """Write a PNG of p50, p95 and p99 latency per interval."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ReportError(
            "the chart needs matplotlib: pip install 'otel-flux[report]', or pass --no-chart"
        ) from None

    latest = intervals[-1]["end"] if intervals else 0.0
    minutes = [(entry["end"] - latest) / 60.0 for entry in intervals]
    figure, axes = plt.subplots(figsize=(10, 4))
    for name in ("p50", "p95", "p99"):
        values = [entry["latency_ms"].get(name) for entry in intervals]
        # Markers keep an interval visible when its neighbours had no requests.
        axes.plot(
            minutes,
            [float("nan") if v is None else v for v in values],
            label=name,
            marker="o",
            markersize=3,
        )
    # The window covers at least the 60 minutes of history, so one interval
    # does not fill the whole axis.
    axes.set_xlim(min(-60.0, min(minutes, default=0.0)) - 1.0, 1.0)
    axes.set_xlabel("minutes before the latest interval")
    axes.set_ylabel("HTTP latency (ms)")
    axes.set_title("HTTP server latency per interval")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)


def run(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("FLUX_ADMIN_TOKEN")
    if not token:
        print(
            "otel-flux report: missing admin token. Pass --token or set FLUX_ADMIN_TOKEN.",
            file=sys.stderr,
        )
        return 2
    base = args.url.rstrip("/") + DEFAULT_PREFIX
    try:
        monitor = fetch_json(f"{base}/monitor", token, args.timeout)
        print(format_table(monitor))
        if not args.no_chart:
            history = fetch_json(
                f"{base}/monitor/history?minutes={args.minutes:g}", token, args.timeout
            )
            write_chart(history["intervals"], args.chart)
            print(f"\nlatency chart written to {args.chart}")
    except ReportError as exc:
        print(f"otel-flux report: {exc}", file=sys.stderr)
        return 1
    return 0
