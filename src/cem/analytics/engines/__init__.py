"""Metric engines: each computes a metric's additive aggregates; the registry derives the values."""
