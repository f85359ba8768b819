"""Helpers shared by the test suites: local servers and OpenTelemetry test providers."""
