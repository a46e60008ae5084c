"""Benchmarks: `python -m bench [NAME ...] [--scale small|full]` runs scenarios and prints a table.

Add a scenario: a module in `bench/` with `run(ctx: Context) -> list[Result]`, plus one line
in `SCENARIOS` in `bench/common.py`.
"""
