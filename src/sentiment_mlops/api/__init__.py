"""The HTTP service: a thin FastAPI app over the packaged sentiment model.

``uvicorn sentiment_mlops.api.app:app`` serves it; settings come from ``SENTIMENT_*``
environment variables (see :mod:`sentiment_mlops.api.settings`).
"""
