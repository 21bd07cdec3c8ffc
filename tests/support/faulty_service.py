"""The service, with a model that fails or stalls on chosen texts: for the fault tests.

``uvicorn tests.support.faulty_service:app`` serves the real app on the real model of
``SENTIMENT_MODEL_URI``; only scoring and explaining these texts is changed, in that process.
"""

from __future__ import annotations

import os
import time

from sentiment_mlops.api.app import create_app
from sentiment_mlops.api.model import ServedModel

BREAKS = "this text breaks the model"
STALLS = "this text stalls the model"
STALL_S = float(os.environ.get("FAULTY_STALL_S", "2"))

_predict, _explain = ServedModel.predict, ServedModel.explain


def _predict_or_fail(self, texts):
    if BREAKS in texts:
        raise RuntimeError("the model broke")
    if STALLS in texts:
        time.sleep(STALL_S)  # holds the scoring thread, as a slow model does
    return _predict(self, texts)


def _explain_or_fail(self, text, label, top_k):
    if text == BREAKS:
        raise RuntimeError("the explainer broke")
    if text == STALLS:
        time.sleep(STALL_S)
    return _explain(self, text, label, top_k)


ServedModel.predict = _predict_or_fail
ServedModel.explain = _explain_or_fail
app = create_app()
