#!/usr/bin/env python3
"""An Accept=no service: accepts one connection on any passed listener and reports its fds, names and env."""
import json
import os
import select
import socket

n = int(os.environ["LISTEN_FDS"])
names = os.environ.get("LISTEN_FDNAMES", "").split(":")
listeners = [socket.socket(fileno=3 + i) for i in range(n)]
# Before accept(), so that the list is exactly what the activator passed.
fds = {f: os.readlink(f"/proc/self/fd/{f}") for f in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{f}")}
ready, _, _ = select.select(listeners, [], [], 10)
conn, _ = ready[0].accept()
report = {
    "pid": os.getpid(),
    "listen_pid": os.environ.get("LISTEN_PID"),
    "names": names,
    "ports": [l.getsockname()[1] for l in listeners],
    "fds": fds,
}
conn.sendall((json.dumps(report) + "\n").encode())
conn.close()
