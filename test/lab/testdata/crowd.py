"""crowd.py IFACE DEVICES FLOWS: many devices opening many connections.

From one interface, sends TCP SYNs to 203.0.113.10:80 from DEVICES
made-up devices (MAC 02:77:00:00:hi:lo, address 10.77.hi.lo), FLOWS
connections each (source ports 20000 up), round-robin over the devices.
The frames go to a MAC nobody has, so the bridge floods them and the
router's IP stack ignores them: only a capture in promiscuous mode sees
them, and nothing answers. Paced in bursts of one SYN per device.
"""
import socket
import struct
import sys
import time

iface, devices, flows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
DST_MAC = bytes.fromhex("020000000099")
DST_IP = socket.inet_aton("203.0.113.10")


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((iface, 0))
sent = 0
for f in range(flows):
    for i in range(devices):
        src_mac = bytes([0x02, 0x77, 0, 0, i >> 8, i & 0xFF])
        src_ip = bytes([10, 77, i >> 8, i & 0xFF])
        sport = 20000 + f
        tcp = struct.pack("!HHIIBBHHH", sport, 80, f * 7919 + i, 0, 5 << 4, 0x02, 64240, 0, 0)
        pseudo = src_ip + DST_IP + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), (f * devices + i) & 0xFFFF,
                         0x4000, 64, 6, 0, src_ip, DST_IP)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        sock.send(DST_MAC + src_mac + b"\x08\x00" + ip + tcp)
        sent += 1
    time.sleep(0.005)
print("sent %d SYNs from %d devices" % (sent, devices))
