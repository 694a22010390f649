#!/usr/bin/env python3
"""Test client: MPTCP (protocol 262) or TCP connections, printing one JSON line per run.

  client.py once HOST PORT [--tcp] [--send TEXT] [--timeout S] [--keep-open]
      one connection: sends TEXT (if any), shuts down writing (unless --keep-open), reads to EOF.
  client.py seq HOST PORT N [--tcp] [--send TEXT]
      N sequential connections; counts answered ones (non-empty reply) and errors.
"""
import json
import socket
import sys
import time


def connect(host, port, tcp, timeout):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM, 0 if tcp else socket.IPPROTO_MPTCP)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def once(host, port, tcp, send, timeout, keep=False):
    s = connect(host, port, tcp, timeout)
    local = s.getsockname()
    proto = s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)
    if send:
        s.sendall(send.encode())
    if not keep:
        s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return {"local_port": local[1], "local_addr": local[0], "protocol": proto, "received": data.decode(errors="replace")}


def main():
    args = sys.argv[1:]
    mode, host, port = args[0], args[1], int(args[2])
    tcp = "--tcp" in args
    send = args[args.index("--send") + 1] if "--send" in args else ""
    timeout = float(args[args.index("--timeout") + 1]) if "--timeout" in args else 10.0
    keep = "--keep-open" in args
    if mode == "once":
        print(json.dumps(once(host, port, tcp, send, timeout, keep)))
    elif mode == "seq":
        n = int(args[3])
        ok = 0
        errors = []
        t0 = time.monotonic()
        times = []
        for i in range(n):
            t = time.monotonic()
            try:
                r = once(host, port, tcp, send, timeout)
                if r["received"]:
                    ok += 1
                else:
                    errors.append("empty reply")
            except OSError as e:
                errors.append(f"{type(e).__name__}: {e}")
            times.append(time.monotonic() - t)
        times.sort()
        print(json.dumps({"answered": ok, "errors": errors[:10], "n_errors": len(errors), "seconds": time.monotonic() - t0, "median_ms": times[len(times) // 2] * 1000}))


main()
