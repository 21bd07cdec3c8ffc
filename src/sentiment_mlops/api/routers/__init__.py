"""One router per resource: health, predictions, the model card, metrics."""
