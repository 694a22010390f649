#!/usr/bin/env python3
"""An Accept=yes service: reports what it was given on the connection at fd 3, as one JSON line."""
import json
import os
import socket
import sys

s = socket.socket(fileno=3)
info = {
    "argv": sys.argv[1:],
    "pid": os.getpid(),
    "so_protocol": s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL),
    "env": {k: v for k, v in os.environ.items()},
    "fds": sorted(int(f) for f in os.listdir("/proc/self/fd")),
    "fd_targets": {f: os.readlink(f"/proc/self/fd/{f}") for f in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{f}")},
    "nonblocking": bool(__import__("fcntl").fcntl(3, __import__("fcntl").F_GETFL) & os.O_NONBLOCK),
}
s.sendall((json.dumps(info) + "\n").encode())
s.close()
