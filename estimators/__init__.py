"""Estimators: what a candidate costs (complexity) and how good it is (proxy accuracy)."""

from .base import Estimator, Measurement, fingerprint_of
from .complexity import AnalyticComplexity, MeasuredComplexity

__all__ = ["AnalyticComplexity", "Estimator", "Measurement", "MeasuredComplexity", "fingerprint_of"]
