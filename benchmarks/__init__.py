"""Benchmarks that run against real components (see benchmarks/README.md)."""
