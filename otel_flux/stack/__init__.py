"""The local pipeline: Redis, the Collector, Jaeger, Prometheus and the sample service."""
