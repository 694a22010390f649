#!/usr/bin/env python3
"""An Accept=no service that answers exactly one connection on the passed listener, then exits —
after the FIFO named by argv[1] (if given) has been opened and closed by the test: the test decides
when, by an event, never by the clock."""
import os
import socket
import sys

assert os.environ.get("LISTEN_PID") == str(os.getpid()), "LISTEN_PID is not my PID"
assert os.environ.get("LISTEN_FDS") == "1"
ls = socket.socket(fileno=3)
c, _ = ls.accept()
c.sendall(b"pong %d\n" % os.getpid())
c.close()
if len(sys.argv) > 1:
    with open(sys.argv[1], "rb") as gate:
        gate.read()
