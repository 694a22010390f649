"""A notify socket like a service manager's: binds an AF_UNIX datagram socket with SO_PASSCRED,
prints 'ready <path>', then for each datagram one JSON line: sender pid/uid, the text, and for each
fd received what it is (readlink of /proc/self/fd/N) and, for a regular file, its content."""
import json, os, socket, struct, sys

path = sys.argv[1]
count = int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
print("ready", path, flush=True)
for _ in range(count):
    msg, anc, flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(4 * 16))
    pid = uid = None
    fds = []
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid, uid, _gid = struct.unpack("iII", data[:12])
        elif level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds += list(struct.unpack("%di" % (len(data) // 4), data[: len(data) - len(data) % 4]))
    info = []
    for fd in fds:
        target = os.readlink("/proc/self/fd/%d" % fd)
        content = None
        if target.startswith("/"):
            os.lseek(fd, 0, 0)
            content = os.read(fd, 100).decode()
        info.append({"target": target, "content": content})
        os.close(fd)
    print(json.dumps({"pid": pid, "uid": uid, "text": msg.decode(), "fds": info}), flush=True)
