#!/usr/bin/env python3
"""dns-aaaa.py SERVER NAME: ask SERVER (an IPv6 address, a link-local one
with %zone) over UDP for the AAAA records of NAME and print each answer's
address on a line. Exits 1 without an answer within 3 s or on an error
code. busybox nslookup takes no zone in the server's address."""
import ipaddress
import random
import socket
import struct
import sys

server, name = sys.argv[1], sys.argv[2]
qid = random.randrange(1 << 16)
query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
for label in name.rstrip(".").split("."):
    query += bytes([len(label)]) + label.encode()
query += b"\x00" + struct.pack("!HH", 28, 1)

addr = socket.getaddrinfo(server, 53, socket.AF_INET6, socket.SOCK_DGRAM)[0][4]
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(query, addr)
data, _ = s.recvfrom(4096)
rid, flags, qd, an = struct.unpack("!HHHH", data[:8])
if rid != qid or flags & 0xF:
    sys.exit("bad answer: id %d, flags %#x" % (rid, flags))


def skip_name(b, i):
    while True:
        n = b[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += n + 1


i = 12
for _ in range(qd):
    i = skip_name(data, i) + 4
for _ in range(an):
    i = skip_name(data, i)
    rtype, _, _, rdlen = struct.unpack("!HHIH", data[i:i + 10])
    i += 10
    if rtype == 28:
        print(ipaddress.IPv6Address(data[i:i + rdlen]))
    i += rdlen
