"""Alert thresholds, their in-process evaluation and the Prometheus rules rendered from them."""
