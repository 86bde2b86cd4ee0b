"""Reproducible performance measurements of Skydock against baselines run side by side.

Run with ``make bench`` or ``python -m benchmarks.run --help``. Nothing here asserts a
speed: each benchmark prints medians, the ratio Skydock / baseline measured in the same
run, and the data size it used.
"""
