"""Benchmarks and scoring scripts; `bench.quality` is also imported by the quality gate."""
