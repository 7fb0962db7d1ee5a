"""Hyperparameter studies on Optuna whose trials are Headwater runs."""

__all__: list[str] = []
