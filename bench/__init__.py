"""Benchmarks (`make bench` = `python -m bench`): outbox fan-out through Telegram, and a full sweep.

Not part of the test suite; figures go to bench/results.md.
"""
