"""Request templates and response framing as pure byte transformations (no network)."""

from __future__ import annotations

import pickle

import pytest

from nbexec.brokers.wire import FramingError, RequestTemplate, ResponseReader
from nbexec.core.errors import ValidationError
from nbexec.core.secrets import Secret


def kite_place() -> RequestTemplate:
    return RequestTemplate(
        "POST",
        "/orders/regular",
        "api.kite.trade",
        headers={"X-Kite-Version": "3", "Authorization": Secret("token key:TOKEN")},
        content_type="application/x-www-form-urlencoded",
    )


def test_render_writes_the_fixed_head_and_the_body_length():
    assert kite_place().render(b"quantity=1") == (
        b"POST /orders/regular HTTP/1.1\r\nHost: api.kite.trade\r\nX-Kite-Version: 3\r\n"
        b"Authorization: token key:TOKEN\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Connection: keep-alive\r\nContent-Length: 10\r\n\r\nquantity=1"
    )


def test_render_with_path_suffix_extends_the_path():
    request = RequestTemplate("DELETE", "/orders/regular/", "h", content_type=None).render(path_suffix=b"2512")
    assert request.startswith(b"DELETE /orders/regular/2512 HTTP/1.1\r\n")
    assert request.endswith(b"Content-Length: 0\r\n\r\n")


def test_path_suffix_with_a_space_or_newline_is_refused():
    with pytest.raises(ValidationError):
        kite_place().render(b"", b"1 HTTP/1.1\r\nX: y")


def test_repr_shows_header_names_but_no_secret():
    text = repr(kite_place())
    assert "Authorization" in text and "TOKEN" not in text


def test_template_cannot_be_pickled():
    with pytest.raises(TypeError):
        pickle.dumps(kite_place())


def test_header_value_with_crlf_is_refused_without_showing_a_secret():
    with pytest.raises(ValidationError) as caught:
        RequestTemplate("POST", "/o", "h", headers={"access-token": Secret("abc\r\nX: 1")})
    assert "abc" not in str(caught.value)


def test_template_sets_its_own_framing_headers():
    with pytest.raises(ValidationError):
        RequestTemplate("POST", "/o", "h", headers={"Content-Length": "5"})


def test_reader_frames_content_length_across_partial_feeds():
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel") is False
    assert reader.feed(b"lo") is True
    response = reader.take(1, 2)
    assert (response.status, response.body, response.round_trip_ns) == (200, b"hello", 1)


def test_reader_frames_chunked_body():
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    assert reader.take().body == b"abcde"


def test_reader_frames_successive_responses_on_one_connection():
    reader = ResponseReader()
    for body in (b"one", b"two"):
        assert reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n" + body)
        assert reader.take().body == body
    assert reader.keep_alive is True


def test_connection_close_response_is_not_keep_alive():
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert reader.keep_alive is False


def test_unasked_second_response_is_a_framing_error():
    reader = ResponseReader()
    with pytest.raises(FramingError):
        reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n")


def test_invalid_bytes_are_a_framing_error():
    with pytest.raises(FramingError):
        ResponseReader().feed(b"SMTP ready\r\n\r\n")


def test_oversized_body_is_a_framing_error():
    with pytest.raises(FramingError):
        ResponseReader(max_bytes=4).feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")


def test_header_lookup_is_case_insensitive():
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n")
    response = reader.take()
    assert (response.status, response.header("retry-after"), response.header("x-none")) == (429, "1", None)
