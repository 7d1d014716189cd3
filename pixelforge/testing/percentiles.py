"""Nearest-rank percentiles for the benchmark tables (p50 / p95 / max over a few dozen samples)."""

from __future__ import annotations


def percentile(values: list[float], q: float) -> float:
    """The value at percentile ``q`` (0-100) by nearest rank; ``q=100`` is the maximum."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]
