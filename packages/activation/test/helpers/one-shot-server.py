#!/usr/bin/env python3
"""An Accept=no service that answers exactly one connection on the passed listener, then exits
(after argv[1] seconds, if given)."""
import os
import socket
import sys
import time

assert os.environ.get("LISTEN_PID") == str(os.getpid()), "LISTEN_PID is not my PID"
assert os.environ.get("LISTEN_FDS") == "1"
ls = socket.socket(fileno=3)
c, _ = ls.accept()
c.sendall(b"pong %d\n" % os.getpid())
c.close()
if len(sys.argv) > 1:
    time.sleep(float(sys.argv[1]))
