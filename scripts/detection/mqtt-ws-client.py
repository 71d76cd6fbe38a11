#!/usr/bin/python3
"""mqtt-ws-client.py — an MQTT 3.1.1 client over WebSocket (RFC 6455),
written with Python's standard library alone, as a home-automation app or
a browser dashboard talks to its broker.

    mqtt-ws-client.py HOST PORT USER [fragmented]

The password is read from the environment (MQTT_PASSWORD), so that it
shows in no process list. The client upgrades GET /mqtt with the
subprotocol "mqtt", sends CONNECT in masked binary frames (with
"fragmented", in three fragments with a ping between the first two),
reads the CONNACK, and, if the broker accepted the login, publishes one
message and disconnects; then it closes the WebSocket. It exits 0 if the
broker accepted the login, 5 if it refused it.
"""

import base64
import os
import socket
import struct
import sys


def frame(opcode, payload, fin=True):
    """A client frame: always masked (RFC 6455 section 5.3)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n <= 0xFFFF:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def s16(b):
    return struct.pack("!H", len(b)) + b


def packet(header, body):
    length, n = b"", len(body)
    while True:
        c, n = n & 0x7F, n >> 7
        length += bytes([c | (0x80 if n else 0)])
        if not n:
            return bytes([header]) + length + body


def read_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError("connection closed")
        out += chunk
    return out


def read_frame(sock):
    b0, b1 = read_exact(sock, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(sock, 8))[0]
    key = read_exact(sock, 4) if b1 & 0x80 else None
    payload = read_exact(sock, n)
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return b0 & 0x0F, payload


def main():
    host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    fragmented = len(sys.argv) > 4 and sys.argv[4] == "fragmented"
    password = os.environ["MQTT_PASSWORD"].encode()
    sock = socket.create_connection((host, port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((
        f"GET /mqtt HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n"
        "Origin: http://hub.home.arpa\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += read_exact(sock, 1)
    if not answer.startswith(b"HTTP/1.1 101"):
        sys.exit(f"upgrade refused: {answer!r}")
    connect = packet(0x10, s16(b"MQTT") + bytes([4, 0xC2, 0, 60]) + s16(b"hub-dashboard-01") + s16(user) + s16(password))
    if fragmented:
        sock.sendall(frame(0x2, connect[:7], fin=False))
        sock.sendall(frame(0x9, b"hi"))
        sock.sendall(frame(0x0, connect[7:20], fin=False) + frame(0x0, connect[20:]))
    else:
        sock.sendall(frame(0x2, connect))
    while True:
        opcode, payload = read_frame(sock)
        if opcode == 0x2:
            break
    if payload[:1] != b"\x20" or len(payload) < 4:
        sys.exit(f"no CONNACK: {payload!r}")
    code = payload[3]
    if code == 0:
        sock.sendall(frame(0x2, packet(0x30, s16(b"home/hall/light") + b"on")))
        sock.sendall(frame(0x2, b"\xe0\x00"))  # DISCONNECT
    sock.sendall(frame(0x8, struct.pack("!H", 1000)))
    try:
        while read_frame(sock)[0] != 0x8:
            pass
    except (EOFError, OSError):
        pass
    sock.close()
    sys.exit(code)


if __name__ == "__main__":
    main()
