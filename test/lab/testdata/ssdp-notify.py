"""ssdp-notify.py IP SERVER: announce a UPnP media renderer on the LAN.

Sends an SSDP ssdp:alive NOTIFY to 239.255.255.250:1900 for each of the
device's notification types every second, with the given SERVER header
(the UPnP stack and version a vulnerability scanner reads), until killed.
"""
import socket
import struct
import sys
import time

IP, SERVER = sys.argv[1], sys.argv[2]
GROUP = ("239.255.255.250", 1900)
UUID = "uuid:5a3c9e10-77a1-4c2b-9f00-8c79f54ca103"
LOCATION = "http://%s:9197/dmr/description.xml" % IP
NTS = ["upnp:rootdevice", "urn:schemas-upnp-org:device:MediaRenderer:1"]

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(IP))
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, struct.pack("b", 2))
while True:
    for nt in NTS:
        msg = "\r\n".join([
            "NOTIFY * HTTP/1.1",
            "HOST: 239.255.255.250:1900",
            "CACHE-CONTROL: max-age=1800",
            "LOCATION: " + LOCATION,
            "NT: " + nt,
            "NTS: ssdp:alive",
            "SERVER: " + SERVER,
            "USN: " + UUID + "::" + nt,
            "", ""])
        sock.sendto(msg.encode(), GROUP)
    time.sleep(1)
