import socket, sys, time
n = int(sys.argv[1])
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
l.bind(('127.0.0.1', 0)); l.listen(1)
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
c.connect(l.getsockname()); a, _ = l.accept()
c.sendall(b'x' * n)
got = 0
while got < n: got += len(a.recv(65536))
print('PAIR', l.getsockname()[1], c.getsockname()[1], flush=True)
sys.stdin.read() if not sys.stdin.isatty() else None
time.sleep(60)
