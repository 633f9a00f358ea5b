"""RFC 6455 client codec, sans-I/O: handshake bytes, frames in and out, what a server may not send."""

from __future__ import annotations

import base64

import pytest

from nbexec.core.errors import ConfigError
from nbexec.feeds.wire import (FIN, OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, HandshakeReader,
                               HandshakeRefused, ProtocolViolation, accept_key, check_control,
                               client_key, close_payload, encode_frame, endpoint, handshake_request,
                               mask, next_frame, parse_close)

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="   # RFC 6455 1.3


def answer(key: str = RFC_KEY, status: str = "101 Switching Protocols", extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n{extra}\r\n").encode()


def server_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    n = len(payload)
    length = bytes([n]) if n < 126 else (bytes([126]) + n.to_bytes(2, "big") if n < 65536
                                         else bytes([127]) + n.to_bytes(8, "big"))
    return bytes([(FIN if fin else 0) | opcode]) + length + payload


def test_the_accept_key_is_the_rfc_example():
    assert accept_key(RFC_KEY) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_each_client_key_is_fresh_16_random_bytes():
    keys = {client_key() for _ in range(20)}
    assert len(keys) == 20 and all(len(base64.b64decode(k)) == 16 for k in keys)


def test_the_request_asks_for_version_13_with_the_key_headers_and_the_query():
    request = handshake_request(endpoint("ws://h:81/kite/ws?api_key=k&access_token=t"), RFC_KEY,
                                {"X-Kite-Version": "3"}).decode()
    head, _, rest = request.partition("\r\n")
    assert head == "GET /kite/ws?api_key=k&access_token=t HTTP/1.1" and rest.endswith("\r\n\r\n")
    lines = set(rest.split("\r\n"))
    assert {"Host: h:81", "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {RFC_KEY}",
            "Sec-WebSocket-Version: 13", "X-Kite-Version: 3"} <= lines


def test_the_host_header_leaves_out_the_scheme_default_port():
    assert endpoint("wss://ws.kite.trade").host_header == "ws.kite.trade"
    assert endpoint("wss://ws.kite.trade").port == 443 and endpoint("wss://ws.kite.trade").target == "/"
    assert endpoint("ws://h:80/x").host_header == "h" and not endpoint("ws://h/x").secure


def test_a_url_that_is_not_ws_is_a_config_error_that_does_not_quote_it():
    with pytest.raises(ConfigError) as info:
        endpoint("https://h/feed?token=SECRET")
    assert "SECRET" not in str(info.value) and "https" in str(info.value)


def test_a_101_in_pieces_is_read_and_the_bytes_after_it_are_the_first_frames():
    reader = HandshakeReader(RFC_KEY)
    data = answer() + server_frame(OP_BINARY, b"\x00")
    assert reader.feed(data[:10]) is None and reader.feed(data[10:40]) is None
    assert reader.feed(data[40:]) == server_frame(OP_BINARY, b"\x00")


def test_another_status_is_a_refusal_with_that_status():
    reader = HandshakeReader(RFC_KEY)
    with pytest.raises(HandshakeRefused) as info:
        reader.feed(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\n\r\ndenied!")
    assert info.value.status == 403


def test_a_101_for_another_key_is_refused():
    with pytest.raises(ProtocolViolation, match="Accept"):
        HandshakeReader(RFC_KEY).feed(answer(key=client_key()))


def test_a_101_choosing_an_extension_not_offered_is_refused():
    with pytest.raises(ProtocolViolation, match="extension"):
        HandshakeReader(RFC_KEY).feed(answer(extra="Sec-WebSocket-Extensions: permessage-deflate\r\n"))


def test_client_frames_are_masked_as_in_the_rfc_example():
    # RFC 6455 5.7: a masked "Hello"
    assert encode_frame(OP_TEXT, b"Hello", bytes.fromhex("37fa213d")) == bytes.fromhex("818537fa213d7f9f4d5158")


@pytest.mark.parametrize("size, length_bytes", [(125, 0), (126, 2), (65535, 2), (65536, 8)])
def test_client_frames_carry_the_length_in_7_16_or_64_bits_and_unmask_to_the_payload(size, length_bytes):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    frame = encode_frame(OP_BINARY, payload)
    assert frame[0] == FIN | OP_BINARY and frame[1] & 0x80
    start = 2 + length_bytes
    key = frame[start:start + 4]
    assert mask(frame[start + 4:], key) == payload


def test_two_frames_of_the_same_payload_use_different_keys():
    assert encode_frame(OP_TEXT, b"same")[2:6] != encode_frame(OP_TEXT, b"same")[2:6]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_a_server_frame_is_located_whatever_its_length(size):
    frame = server_frame(OP_BINARY, b"x" * size)
    data = b"junk" + frame + b"next"
    head, start, end = next_frame(data, 4)
    assert head == FIN | OP_BINARY and data[start:end] == b"x" * size and data[end:] == b"next"


def test_an_incomplete_frame_is_reported_as_such_at_every_cut():
    frame = server_frame(OP_BINARY, b"y" * 300)
    for cut in range(len(frame)):
        found = next_frame(frame[:cut], 0)
        assert found is None or found[2] > cut


def test_a_masked_server_frame_is_a_protocol_violation():
    with pytest.raises(ProtocolViolation, match="masked"):
        next_frame(encode_frame(OP_BINARY, b"abc"), 0)


def test_a_reserved_bit_is_a_protocol_violation():
    with pytest.raises(ProtocolViolation, match="reserved"):
        next_frame(bytes([FIN | 0x40 | OP_BINARY, 1, 0]), 0)


@pytest.mark.parametrize("head, length", [(OP_PING, 0), (FIN | OP_PING, 126), (FIN | 0x3, 0)])
def test_fragmented_or_long_control_frames_and_unknown_opcodes_are_violations(head, length):
    with pytest.raises(ProtocolViolation):
        check_control(head, length)


def test_close_frames_carry_a_code_and_a_reason():
    assert parse_close(close_payload(1000, "bye")) == (1000, "bye")
    assert parse_close(b"") == (1005, "")
    with pytest.raises(ProtocolViolation):
        parse_close(b"\x03")
    assert check_control(FIN | OP_CLOSE, 2) == OP_CLOSE and check_control(FIN | OP_PING, 125) == OP_PING
