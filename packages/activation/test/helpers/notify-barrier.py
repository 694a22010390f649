"""Sends argv[1] (with \\n escapes) as one sd_notify message to $NOTIFY_SOCKET, then waits, as
systemd-notify >= 254 does, until the manager has processed it (BARRIER=1: the manager closes the
pipe's write end it was sent; the read end then reports POLLHUP), so that its exit cannot overtake it."""
import array, os, select, socket, sys

addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(sys.argv[1].replace("\\n", "\n").encode(), addr)
r, w = os.pipe()
s.sendmsg([b"BARRIER=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [w]))], 0, addr)
os.close(w)
p = select.poll()
p.register(r, select.POLLHUP)
p.poll()
