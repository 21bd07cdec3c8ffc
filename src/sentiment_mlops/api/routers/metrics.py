"""Prometheus metrics endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from sentiment_mlops.api.dependencies import MetricsDep

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics",
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Text exposition"}},
)
def metrics(service_metrics: MetricsDep) -> Response:
    """Request counts and latency histograms per route, predictions per class."""
    return Response(service_metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
