"""Evaluation: metrics registry, 2-D mode statistics, image metrics through torch-fidelity."""
from ganbench.metrics.base import METRICS, EvalContext, MetricValue

__all__ = ["METRICS", "EvalContext", "MetricValue"]
