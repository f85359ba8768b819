"""Load scenarios for the sample service, run headless with Locust: ``otel-flux load``."""
