"""Metric Views, bucket edges and the in-process monitor."""
