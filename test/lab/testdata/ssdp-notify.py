"""ssdp-notify.py IP SERVER: announce a UPnP media renderer on the LAN.

Serves the renderer's device description at the LOCATION it announces,
answering with the given SERVER header, as a real renderer's web stack
does; then sends an SSDP ssdp:alive NOTIFY to 239.255.255.250:1900 for
each of the device's notification types every second, with the same
SERVER header (the UPnP stack and version a vulnerability scanner reads),
until killed.
"""
import http.server
import socket
import struct
import sys
import threading
import time

IP, SERVER = sys.argv[1], sys.argv[2]
GROUP = ("239.255.255.250", 1900)
PORT = 9197
UUID = "uuid:5a3c9e10-77a1-4c2b-9f00-8c79f54ca103"
LOCATION = "http://%s:%d/dmr/description.xml" % (IP, PORT)
NTS = ["upnp:rootdevice", "urn:schemas-upnp-org:device:MediaRenderer:1"]
DESCRIPTION = ("<?xml version=\"1.0\"?>\n"
               "<root xmlns=\"urn:schemas-upnp-org:device-1-0\">"
               "<specVersion><major>1</major><minor>0</minor></specVersion>"
               "<device><deviceType>urn:schemas-upnp-org:device:MediaRenderer:1</deviceType>"
               "<friendlyName>Living room TV</friendlyName>"
               "<manufacturer>Samsung Electronics</manufacturer>"
               "<UDN>" + UUID + "</UDN></device></root>\n").encode()


class Description(http.server.BaseHTTPRequestHandler):
    def version_string(self):
        return SERVER

    def do_GET(self):
        if self.path != "/dmr/description.xml":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(DESCRIPTION)))
        self.end_headers()
        self.wfile.write(DESCRIPTION)

    def log_message(self, *args):
        pass


# Listening before the first NOTIFY: the router fetches the description
# it names at once.
httpd = http.server.HTTPServer((IP, PORT), Description)
threading.Thread(target=httpd.serve_forever, daemon=True).start()

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
