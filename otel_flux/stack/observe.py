"""Read what reached the backends: traces from Jaeger's API, series from Prometheus's."""

from __future__ import annotations

import logging
import urllib.parse
from dataclasses import dataclass
from typing import Any

from otel_flux.stack import health

_logger = logging.getLogger(__name__)

# Request-duration histogram of the HTTP server spans, as the Collector's
# prometheus exporter names it.
REQUEST_DURATION_COUNT = "http_server_request_duration_seconds_count"


@dataclass(frozen=True, slots=True)
class RouteSeries:
    """Request-duration series of one route in Prometheus."""

    route: str
    series: int
    requests: float


def jaeger_traces_per_operation(jaeger_url: str, service: str, limit: int = 500) -> dict[str, int]:
    """Return the number of traces Jaeger stores for each operation of service."""
    quoted = urllib.parse.quote(service, safe="")
    try:
        operations: list[str] = (
            health.get_json(f"{jaeger_url}/api/services/{quoted}/operations")["data"] or []
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _logger.debug("Jaeger operations query failed: %s", exc)
        return {}

    counts: dict[str, int] = {}
    for operation in sorted(operations):
        query = urllib.parse.urlencode(
            {"service": service, "operation": operation, "limit": limit, "lookback": "1h"}
        )
        try:
            traces = health.get_json(f"{jaeger_url}/api/traces?{query}")["data"] or []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            _logger.debug("Jaeger trace query for %r failed: %s", operation, exc)
            continue
        counts[operation] = len(traces)
    return counts


def prometheus_query(prometheus_url: str, promql: str) -> list[dict[str, Any]]:
    """Run an instant PromQL query and return its result vector, empty on failure."""
    query = urllib.parse.urlencode({"query": promql})
    try:
        body = health.get_json(f"{prometheus_url}/api/v1/query?{query}")
    except (OSError, ValueError) as exc:
        _logger.debug("Prometheus query %r failed: %s", promql, exc)
        return []
    if body.get("status") != "success":
        return []
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def request_series_per_route(prometheus_url: str, job: str) -> list[RouteSeries]:
    """Return, per http_route of job, the number of request-duration series and requests."""
    selector = f'{REQUEST_DURATION_COUNT}{{job="{job}"}}'
    series = prometheus_query(prometheus_url, f"count by (http_route) ({selector})")
    totals = prometheus_query(prometheus_url, f"sum by (http_route) ({selector})")
    requests = {row["metric"].get("http_route", ""): float(row["value"][1]) for row in totals}

    rows = [
        RouteSeries(
            route=row["metric"].get("http_route", "(no route)") or "(no route)",
            series=int(float(row["value"][1])),
            requests=requests.get(row["metric"].get("http_route", ""), 0.0),
        )
        for row in series
    ]
    return sorted(rows, key=lambda row: row.route)


def format_table(headers: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    """Render rows as a plain left-aligned text table."""
    cells = [headers, *[tuple(str(cell) for cell in row) for row in rows]]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in cells
    ]
    return "\n".join(line.rstrip() for line in lines)
