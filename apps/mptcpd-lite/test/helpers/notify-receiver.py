# A NOTIFY_SOCKET receiver for tests: binds an AF_UNIX SOCK_DGRAM socket with SO_PASSCRED, prints one
# JSON line per datagram {"pid": sender pid from SCM_CREDENTIALS, "fields": {...}} and flushes.
import json, os, socket, struct, sys
path = sys.argv[1]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
print(json.dumps({"listening": path}), flush=True)
while True:
    data, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = None
    for level, typ, cdata in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid, uid, gid = struct.unpack('iII', cdata[:12])
    fields = dict(l.split('=', 1) for l in data.decode().split('\n') if '=' in l)
    print(json.dumps({"pid": pid, "fields": fields}), flush=True)
