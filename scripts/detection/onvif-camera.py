#!/usr/bin/python3
"""A camera's ONVIF device service for the lab, written with Python's
standard library: SOAP 1.2 over HTTP at /onvif/device_service, answering
GetSystemDateAndTime to anyone (an ONVIF PRE_AUTH operation) and
GetDeviceInformation only to a request whose WS-Security UsernameToken
(UsernameToken Profile 1.0) carries the account's password, as a
PasswordDigest, Base64(SHA-1(nonce + created + password)), or as a
PasswordText. Any other token gets the fault ONVIF Core names for it,
env:Sender / ter:NotAuthorized, with HTTP 400.

Usage: onvif-camera.py ADDRESS PORT USER
The password is read from the environment variable ONVIF_PASSWORD so that
it is not visible in the process list. Runs until killed.
"""

import base64
import hashlib
import hmac
import os
import sys
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, HTTPServer

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
TDS = "http://www.onvif.org/ver10/device/wsdl"
DIGEST = "#PasswordDigest"

# What the device information answer names; the serial number is a
# made-up one's, which no event may carry.
DEVICE = {
    "Manufacturer": "HIKVISION",
    "Model": "DS-2CD2032-I",
    "FirmwareVersion": "V5.4.5 build 170124",
    "SerialNumber": "DS-2CD2032-I20170124AAWR512345678",
    "HardwareId": "88",
}


def envelope(body):
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<env:Envelope xmlns:env="{SOAP}" xmlns:ter="http://www.onvif.org/ver10/error" '
        f'xmlns:tds="{TDS}" xmlns:tt="http://www.onvif.org/ver10/schema">'
        f"<env:Body>{body}</env:Body></env:Envelope>\n"
    ).encode()


NOT_AUTHORIZED = envelope(
    "<env:Fault><env:Code><env:Value>env:Sender</env:Value>"
    "<env:Subcode><env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code>"
    '<env:Reason><env:Text xml:lang="en">Sender not authorized</env:Text></env:Reason></env:Fault>'
)


def authorized(root, user, password):
    """Whether the request's UsernameToken names user with password."""
    token = root.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    if token is None:
        return False
    name = token.findtext(f"{{{WSSE}}}Username", "")
    pw = token.find(f"{{{WSSE}}}Password")
    if name != user or pw is None:
        return False
    if pw.get("Type", "").endswith(DIGEST):
        nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce", ""))
        created = token.findtext(f"{{{WSU}}}Created", "").encode()
        want = base64.b64encode(hashlib.sha1(nonce + created + password.encode()).digest()).decode()
        return hmac.compare_digest(want, (pw.text or "").strip())
    return hmac.compare_digest((pw.text or "").encode(), password.encode())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gSOAP/2.8"
    sys_version = ""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        root = ET.fromstring(body)
        op = root.find(f"{{{SOAP}}}Body/*")
        op = op.tag.rsplit("}", 1)[-1] if op is not None else ""
        if op == "GetSystemDateAndTime":
            self.answer(200, envelope(
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
                "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"))
        elif not authorized(root, self.server.user, self.server.password):
            self.answer(400, NOT_AUTHORIZED)
        elif op == "GetDeviceInformation":
            fields = "".join(f"<tds:{k}>{v}</tds:{k}>" for k, v in DEVICE.items())
            self.answer(200, envelope(f"<tds:GetDeviceInformationResponse>{fields}</tds:GetDeviceInformationResponse>"))
        else:
            self.answer(400, envelope(
                "<env:Fault><env:Code><env:Value>env:Receiver</env:Value><env:Subcode>"
                "<env:Value>ter:ActionNotSupported</env:Value></env:Subcode></env:Code></env:Fault>"))

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("onvif-camera: " + fmt % args + "\n")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    address, port, user = sys.argv[1:]
    server = HTTPServer((address, int(port)), Handler)
    server.user, server.password = user, os.environ["ONVIF_PASSWORD"]
    server.serve_forever()


if __name__ == "__main__":
    main()
