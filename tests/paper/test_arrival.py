"""Arrival stamps are the kernel's: a request read late is still stamped when it arrived."""

import socket
import time

from nbexec.paper.arrival import StampedSocket, listening_socket


def wait_for_kernel_stamps(client: socket.socket, conn: StampedSocket) -> None:
    """Linux turns packet stamps on lazily once a socket asks (a deferred job), and the reads
    before fall back to their own time: probe until a stamp is the packet's."""
    for _ in range(200):
        sent = time.monotonic_ns()
        client.sendall(b"x")
        time.sleep(0.005)
        assert conn.recv(1) == b"x"
        if StampedSocket.last_arrival_ns - sent < 4_000_000:
            return
    raise AssertionError("no kernel receive stamp in 200 probes")


def test_the_stamp_is_the_arrival_not_the_read():
    listener = listening_socket("127.0.0.1", 0)
    listener.setblocking(True)
    client = socket.create_connection(listener.getsockname())
    conn, _ = listener.accept()
    try:
        assert isinstance(conn, StampedSocket)
        wait_for_kernel_stamps(client, conn)
        before_send = time.monotonic_ns()
        client.sendall(b"POST /orders/regular HTTP/1.1\r\n\r\n")
        after_send = time.monotonic_ns()
        time.sleep(0.05)  # the exchange is busy elsewhere: the bytes wait in the socket
        read_at = time.monotonic_ns()
        assert conn.recv(4096) == b"POST /orders/regular HTTP/1.1\r\n\r\n"
        arrived = StampedSocket.last_arrival_ns
        # loopback: it lands during the send (1 ms of slack for moving it between clocks)
        assert before_send - 1_000_000 <= arrived <= after_send + 1_000_000
        assert read_at - arrived >= 40_000_000  # the 50 ms in the socket are not in it
    finally:
        client.close()
        conn.close()
        listener.close()
