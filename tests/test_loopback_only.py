"""The suite's own guard: a test that tries to leave the machine fails instead of reaching out."""

from __future__ import annotations

import socket

import pytest


def test_a_connect_off_loopback_is_refused_before_any_packet():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(ConnectionRefusedError, match="loopback"):
            sock.connect(("192.0.2.1", 443))  # TEST-NET-1: refused by the guard, never sent
    finally:
        sock.close()


def test_loopback_still_connects():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.socket()
    try:
        client.settimeout(2.0)
        client.connect(server.getsockname())
    finally:
        client.close()
        server.close()


def test_a_remote_name_is_not_even_looked_up():
    with pytest.raises(socket.gaierror, match="loopback"):
        socket.getaddrinfo("api.upbit.com", 443)
    assert socket.getaddrinfo("localhost", 80)
