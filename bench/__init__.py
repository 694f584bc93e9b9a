"""Benchmarks and long measurement runs; run each as `python -m bench.NAME`."""
