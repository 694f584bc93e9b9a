"""Benchmarks: `python -m bench` runs them all (bench/run.py).

Single measurements run as `python -m bench.NAME`, e.g. bench.default_runs.
"""
