"""Measuring search: relevance, metrics, bootstrap intervals, the one evaluator, tuning, the model comparison."""
