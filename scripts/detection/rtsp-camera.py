#!/usr/bin/python3
"""A camera's RTSP server for the lab: GStreamer's RTSP server library
(Debian's libgstrtspserver-1.0, through python3-gi) serving one small
MJPEG test stream at rtsp://ADDRESS:PORT/stream that only one account may
play, with HTTP Basic or Digest authentication (RFC 2617) done by the
library itself, as in its own examples test-auth.c and test-auth-digest.c.

Usage: rtsp-camera.py basic|digest ADDRESS PORT REALM USER
The password is read from the environment variable RTSP_PASSWORD so that
it is not visible in the process list. Runs until killed.
"""

import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

# A few tiny frames: the recordings stay small, and ffmpeg still gets a
# real stream to open.
PIPELINE = (
    "( videotestsrc is-live=true pattern=black "
    "! video/x-raw,format=I420,width=64,height=48,framerate=5/1 "
    "! jpegenc quality=30 ! rtpjpegpay name=pay0 pt=26 )"
)


def main():
    if len(sys.argv) != 6 or sys.argv[1] not in ("basic", "digest"):
        sys.exit(__doc__)
    method, address, port, realm, user = sys.argv[1:]
    password = os.environ["RTSP_PASSWORD"]

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(address)
    server.set_service(port)

    auth = GstRtspServer.RTSPAuth()
    auth.set_realm(realm)
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
    if method == "basic":
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    else:
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.add_digest(user, password, token)
    server.set_auth(auth)

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE)
    factory.set_shared(True)
    factory.add_role_from_structure(
        Gst.Structure.from_string(
            "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
        )[0]
    )
    server.get_mount_points().add_factory("/stream", factory)

    if server.attach(None) == 0:
        sys.exit("rtsp-camera: cannot listen on %s:%s" % (address, port))
    print("rtsp-camera: %s auth on rtsp://%s:%s/stream" % (method, address, port), flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
