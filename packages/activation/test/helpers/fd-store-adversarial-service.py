#!/usr/bin/python3
"""fd-store-adversarial-service.py OUTFILE PEER — a Type=notify service for fd-store-adversarial.test.ts.
Each start logs what it got (LISTEN_FDNAMES and, per passed fd, its kind and for a unix socket its peer
path) to OUTFILE, answers one client on fd 3, then, by the line the client sent:
  "store N":  connects N unix stream sockets to PEER and stores each under FDNAME=peerI (one message each)
  "remove NAME": FDSTOREREMOVE=1 FDNAME=NAME
  anything else: nothing
and waits for BARRIER=1 before it exits (so the manager has read every message)."""
import array
import os
import socket
import stat
import sys

out, peer = sys.argv[1], sys.argv[2]


def log(s):
    with open(out, "a") as f:
        f.write(s + "\n")


def describe(fd):
    try:
        m = os.fstat(fd).st_mode
    except OSError as e:
        return "EBADF" if e.errno == 9 else f"errno{e.errno}"
    if stat.S_ISSOCK(m):
        s = socket.socket(fileno=os.dup(fd))
        try:
            return f"unix:{s.getpeername() or '-'}" if s.family == socket.AF_UNIX else "inet"
        except OSError:
            return "unix:unconnected"
        finally:
            s.close()
    return "fifo" if stat.S_ISFIFO(m) else "reg" if stat.S_ISREG(m) else "other"


def notify(msg, fds=()):
    addr = os.environ["NOTIFY_SOCKET"]
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
    s.sendmsg([msg.encode()], anc, 0, addr)
    s.close()


n = int(os.environ.get("LISTEN_FDS", "0"))
names = os.environ.get("LISTEN_FDNAMES", "")
log(f"start: LISTEN_FDNAMES={names} fds={','.join(describe(3 + i) for i in range(n))}")
notify("READY=1")
lsock = socket.socket(fileno=3)
conn, _ = lsock.accept()
line = conn.recv(200).decode().strip()
words = line.split()
if words and words[0] == "store":
    for i in range(int(words[1])):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(peer)
        s.sendall(f"peer{i}\n".encode())
        notify(f"FDSTORE=1\nFDNAME=peer{i}", [s.fileno()])
        s.close()
elif words and words[0] == "remove":
    notify(f"FDSTOREREMOVE=1\nFDNAME={words[1]}")
r, w = os.pipe()
notify("BARRIER=1", [w])
os.close(w)
os.read(r, 1)
conn.sendall(f"done {line}\n".encode())
conn.close()
