"""Benchmarks: each prints one JSON object (``orderbot bench NAME`` or ``python -m bench.NAME``)."""
