"""Alerting rules on the Collector's own metrics: telemetry that was dropped or is backing up.

The Collector (v0.165.0) serves these counters without the ``_total`` suffix;
the expressions accept both spellings so they keep working if a later release
or a different Prometheus reader adds it.
"""

from __future__ import annotations

from typing import Any

DROPPED = "FluxTelemetryDropped"
QUEUE_FILLING = "FluxTelemetryQueueFilling"

# Counters of items the Collector refused, failed to receive, or gave up on:
# the receivers' refused and failed items (refused means the sender may
# retry), the exporters' items that failed after every retry or found the
# sending queue full, and traces that tail sampling evicted before deciding.
DROPPED_SELECTOR = (
    '{__name__=~"otelcol_(receiver_(refused|failed)|exporter_(send|enqueue)_failed)'
    "_(spans|metric_points|log_records)(_total)?"
    '|otelcol_processor_tail_sampling_sampling_trace_dropped_too_early(_total)?"}'
)
QUEUE_RATIO = "otelcol_exporter_queue_size / otelcol_exporter_queue_capacity"
QUEUE_FULL_RATIO = 0.8
WINDOW = "5m"
DROPPED_FOR = "1m"
QUEUE_FOR = "2m"
SEVERITY = "warning"


def dropped_expression(window: str = WINDOW) -> str:
    return f"sum by (job, instance) (increase({DROPPED_SELECTOR}[{window}])) > 0"


def queue_expression() -> str:
    ratio = f"max by (job, instance, exporter) ({QUEUE_RATIO})"
    return f"{ratio} > {QUEUE_FULL_RATIO}"


def pipeline_group() -> dict[str, Any]:
    """Build the rule group on the Collector's own metrics."""
    target = "{{ $labels.job }} {{ $labels.instance }}"
    return {
        "name": "flux-pipeline",
        "rules": [
            {
                "alert": DROPPED,
                "expr": dropped_expression(),
                "for": DROPPED_FOR,
                "labels": {"severity": SEVERITY},
                "annotations": {
                    "summary": f"The Collector refused or dropped telemetry on {target}",
                    "description": (
                        f"Over the last {WINDOW} the Collector refused, failed to export "
                        "or evicted spans, metric points or log records; see "
                        "otelcol_receiver_refused_*, otelcol_exporter_send_failed_* and "
                        "otelcol_exporter_enqueue_failed_* for which."
                    ),
                },
            },
            {
                "alert": QUEUE_FILLING,
                "expr": queue_expression(),
                "for": QUEUE_FOR,
                "labels": {"severity": SEVERITY},
                "annotations": {
                    "summary": (
                        "The Collector's sending queue of {{ $labels.exporter }} is filling "
                        f"on {target}"
                    ),
                    "description": (
                        f"The queue has been over {QUEUE_FULL_RATIO:.0%} of its capacity for "
                        f"{QUEUE_FOR}; when it is full, new batches are dropped. Check that the "
                        "backend behind the exporter is reachable."
                    ),
                },
            },
        ],
    }
