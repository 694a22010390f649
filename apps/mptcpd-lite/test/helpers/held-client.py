# An MPTCP client that stays connected: connects to HOST:PORT, echoes 64 KiB through the server,
# prints "CONNECTED <local port>", then keeps the connection open until stdin closes.
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.connect((host, port))
data = b'e' * 65536
s.sendall(data)
got = 0
while got < len(data):
    d = s.recv(65536)
    if not d:
        break
    got += len(d)
print('CONNECTED', s.getsockname()[1], flush=True)
sys.stdin.read()
s.close()
