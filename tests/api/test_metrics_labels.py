"""The route label of the request metrics, read from the real service's /metrics.

Requests the middleware rejects before routing (415, 413, 400 not UTF-8) must be counted
under the route they were sent to, like those FastAPI answers; only a path that no route
matches is ``unmatched``, so a client cannot add labels by inventing URLs.
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.system

JSON = {"content-type": "application/json"}


def request_counts(client) -> dict[tuple[str, str, str], float]:
    """``sentiment_http_requests_total`` by (route, method, status), parsed from /metrics."""
    exposition = client.get("/metrics")
    assert exposition.status_code == 200
    return {
        (sample.labels["route"], sample.labels["method"], sample.labels["status"]): sample.value
        for family in text_string_to_metric_families(exposition.text)
        if family.name == "sentiment_http_requests"
        for sample in family.samples
        if sample.name == "sentiment_http_requests_total"
    }


REJECTED_ON_PREDICT = [
    # (id, body, headers, status)
    ("wrong content type", b"text=hello", {"content-type": "text/plain"}, 415),
    ("body too large", b'{"text": "' + b"a" * 6_000_001 + b'"}', JSON, 413),
    ("invalid JSON", b'{"text": "unterminated', JSON, 400),
    ("not UTF-8", b'{"text": "caf\xe9"}', JSON, 400),
]


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [case[1:] for case in REJECTED_ON_PREDICT],
    ids=[case[0] for case in REJECTED_ON_PREDICT],
)
def test_rejected_request_is_counted_under_its_route(service, content, headers, status):
    with service.client() as client:
        before = request_counts(client)
        answer = client.post("/predict", content=content, headers=headers)
        after = request_counts(client)
    assert answer.status_code == status
    labels = ("/predict", "POST", str(status))
    assert after.get(labels, 0) - before.get(labels, 0) == 1
    unmatched = ("unmatched", "POST", str(status))
    assert after.get(unmatched, 0) == before.get(unmatched, 0)


def test_unknown_path_is_counted_as_unmatched_not_by_its_url(service):
    path = "/no-such-route/12345"
    with service.client() as client:
        before = request_counts(client)
        answer = client.get(path)
        after = request_counts(client)
    assert answer.status_code == 404
    labels = ("unmatched", "GET", "404")
    assert after.get(labels, 0) - before.get(labels, 0) == 1
    assert not [key for key in after if "no-such-route" in key[0]]
