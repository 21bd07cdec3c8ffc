"""Vectorizer and class-imbalance steps (and their search space) for the model search.

The steps are fitted by GridSearchCV inside each training fold, and on the training split
only for the final model: never on validation or test rows.
"""

from sentiment_mlops.pipelines.feature_engineering.pipeline import create_pipeline

__all__ = ["create_pipeline"]
