"""Benchmarks: data generation and load runs (issue #9)."""
