"""What every HTTP client shares: which URLs may be called, and how an error answer reads
(one wording for Cekura and every room source)."""

from __future__ import annotations

import httpx
import pytest

from specrunner.errors import UsageError
from specrunner.http_common import check_url, describe_status


def test_a_url_is_checked_and_named_by_what_it_is_for() -> None:
    assert check_url(" https://api.example.test/start/ ", "X") == "https://api.example.test/start/"
    with pytest.raises(UsageError) as caught:
        check_url("http://user:pw@example.com/x?key=s3cret", "room source 'r': url")
    message = str(caught.value)
    assert message.startswith("room source 'r': url http://example.com/x uses plain http")
    assert "s3cret" not in message and "pw" not in message
    with pytest.raises(UsageError, match=r"^CEKURA_API_URL is not set$"):
        check_url("  ", "CEKURA_API_URL")


@pytest.mark.parametrize(
    ("response", "described"),
    [
        (httpx.Response(401, json={"detail": "Invalid API key."}), "HTTP 401: Invalid API key."),
        (
            httpx.Response(404, json={"error": "not-found", "info": "room x"}),
            "HTTP 404: not-found: room x",
        ),
        (
            httpx.Response(429, json={"error": "busy", "code": "PCC-AGENT-AT-CAPACITY"}),
            "HTTP 429: busy (code PCC-AGENT-AT-CAPACITY)",
        ),
        # Django REST framework's field errors, as Cekura answers a refused body
        (
            httpx.Response(400, json={"scenarios": ['Invalid pk "9".', "Required."]}),
            'HTTP 400: scenarios: Invalid pk "9".; Required.',
        ),
        (httpx.Response(502, text="<html>\nBad gateway\n"), "HTTP 502: Bad gateway"),
        (httpx.Response(500), "HTTP 500"),
        (httpx.Response(500, json={"message": "x" * 500}), "HTTP 500: " + "x" * 200),
    ],
    ids=["detail", "error-info", "code", "field-errors", "text", "empty", "long"],
)
def test_an_error_answer_is_its_status_and_the_server_s_words(
    response: httpx.Response, described: str
) -> None:
    assert describe_status(response) == described
