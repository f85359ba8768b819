"""Settings of the metric Views and the in-process monitor (group "metrics")."""

from __future__ import annotations

from otel_flux.settings import (
    Setting,
    define,
    float_list_parser,
    float_parser,
    int_parser,
    parse_bool,
)

BUCKET_GROWTH = define(
    "FLUX_METRICS_BUCKET_GROWTH",
    1.3,
    float_parser(minimum=1.05, maximum=4.0),
    accepted="a ratio from 1.05 to 4",
    doc=(
        "Ratio between neighbouring histogram bucket edges of the duration "
        "histograms. Smaller values give more exact Prometheus quantiles and more "
        "time series."
    ),
    group="metrics",
)

HTTP_BUCKETS_S: Setting[tuple[float, ...] | None] = define(
    "FLUX_METRICS_HTTP_BUCKETS_S",
    None,
    float_list_parser(minimum=0.0),
    accepted="strictly increasing comma-separated seconds, e.g. 0.01,0.1,1",
    doc=(
        "Bucket edges of http.server.request.duration, replacing the computed "
        "grid. The FLUX_ALERT_HTTP_P99_MS threshold is always added as an edge."
    ),
    group="metrics",
)

REDIS_BUCKETS_S: Setting[tuple[float, ...] | None] = define(
    "FLUX_METRICS_REDIS_BUCKETS_S",
    None,
    float_list_parser(minimum=0.0),
    accepted="strictly increasing comma-separated seconds, e.g. 0.001,0.01,0.1",
    doc=(
        "Bucket edges of db.client.operation.duration, replacing the computed "
        "grid. The FLUX_ALERT_REDIS_P99_MS threshold is always added as an edge."
    ),
    group="metrics",
)

SECURITY_BUCKETS_S: Setting[tuple[float, ...] | None] = define(
    "FLUX_METRICS_SECURITY_BUCKETS_S",
    None,
    float_list_parser(minimum=0.0),
    accepted="strictly increasing comma-separated seconds, e.g. 0.001,0.01,0.1",
    doc="Bucket edges of security.check.duration, replacing the computed grid.",
    group="metrics",
)

MONITOR_ENABLED = define(
    "FLUX_MONITOR_ENABLED",
    True,
    parse_bool,
    accepted="true or false",
    doc="Run the in-process monitor, its alerts and the system metrics.",
    group="metrics",
)

MONITOR_INTERVAL_S = define(
    "FLUX_MONITOR_INTERVAL_S",
    60.0,
    float_parser(minimum=1.0, maximum=3600.0),
    accepted="a number of seconds from 1 to 3600",
    doc="Length of one monitor interval. Alerts are evaluated at the end of each.",
    group="metrics",
)

MONITOR_HISTORY = define(
    "FLUX_MONITOR_HISTORY",
    60,
    int_parser(minimum=1, maximum=1440),
    accepted="a number of intervals from 1 to 1440",
    doc="Number of completed intervals the monitor keeps.",
    group="metrics",
)

MONITOR_MAX_ROUTES = define(
    "FLUX_MONITOR_MAX_ROUTES",
    100,
    int_parser(minimum=1, maximum=10000),
    accepted="an integer from 1 to 10000",
    doc="Distinct routes tracked per interval. Later routes are counted under _other.",
    group="metrics",
)

MONITOR_MAX_COMMANDS = define(
    "FLUX_MONITOR_MAX_COMMANDS",
    50,
    int_parser(minimum=1, maximum=10000),
    accepted="an integer from 1 to 10000",
    doc="Distinct Redis commands tracked per interval. Later ones are counted under _other.",
    group="metrics",
)

MONITOR_MAX_ERROR_TYPES = define(
    "FLUX_MONITOR_MAX_ERROR_TYPES",
    50,
    int_parser(minimum=1, maximum=10000),
    accepted="an integer from 1 to 10000",
    doc="Distinct error types tracked per interval. Later ones are counted under _other.",
    group="metrics",
)
