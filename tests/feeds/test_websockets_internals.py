"""What nbexec's WebSocket shell (`nbexec/feeds/websocket.py`) reads of websockets' Sans-I/O
protocol beyond its documented API. The frame cutter hands a lone binary frame straight to
the owner only while the protocol is between messages, which it reads from `current_size`
(None outside a fragmented message), and it closes on a violation the parser recorded in
`parser_exc`. pyproject.toml pins websockets to the release range these hold for; if a
release renames or repurposes either attribute, these tests fail and name it."""

from websockets.client import ClientProtocol
from websockets.exceptions import ProtocolError
from websockets.protocol import OPEN
from websockets.uri import parse_uri


def open_protocol() -> ClientProtocol:
    return ClientProtocol(parse_uri("ws://127.0.0.1/"), state=OPEN)


def server_frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = False) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode, (0x80 if masked else 0) | len(payload)])
    return head + (b"\0\0\0\0" if masked else b"") + payload


def test_current_size_is_none_between_messages_and_set_inside_a_fragmented_one():
    protocol = open_protocol()
    assert hasattr(protocol, "current_size"), "websockets.Protocol.current_size is gone"
    assert protocol.current_size is None
    protocol.receive_data(server_frame(0x1, b"par", fin=False))
    assert protocol.current_size is not None, "current_size no longer marks a message in progress"
    protocol.receive_data(server_frame(0x0, b"tial"))
    assert protocol.current_size is None
    assert [frame.data for frame in protocol.events_received()] == [b"par", b"tial"]


def test_parser_exc_holds_the_violation_the_parser_met():
    protocol = open_protocol()
    assert hasattr(protocol, "parser_exc"), "websockets.Protocol.parser_exc is gone"
    assert protocol.parser_exc is None
    protocol.receive_data(server_frame(0x2, b"x", masked=True))  # a server must not mask
    assert isinstance(protocol.parser_exc, ProtocolError)
    assert protocol.data_to_send(), "the protocol no longer queues its close frame on a violation"
