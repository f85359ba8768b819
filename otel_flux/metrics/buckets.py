"""Default histogram bucket edges, in seconds."""

# Edges fine enough for useful quantiles from 1 ms to 10 s; the alert thresholds
# (1 s for HTTP p99, 50 ms for Redis p99) are edges, so a quantile compared with
# a threshold is exact there.
HTTP_SERVER_DURATION_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    7.5,
    10.0,
)

DB_CLIENT_DURATION_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.00075,
    0.001,
    0.0015,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
)
