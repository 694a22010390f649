# An MPTCP HTTP client: GET / from HOST:PORT; prints RESULT {"localPort", "status", "mptcp" (TCP_IS_MPTCP = 43)}.
import json, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.settimeout(20)
s.connect((host, port))
s.sendall(b'GET / HTTP/1.0\r\nHost: test\r\n\r\n')
buf = b''
while True:
    d = s.recv(65536)
    if not d: break
    buf += d
print('RESULT ' + json.dumps({'localPort': s.getsockname()[1], 'status': buf.split(b' ')[1].decode() if b' ' in buf else '', 'mptcp': s.getsockopt(socket.SOL_TCP, 43)}), flush=True)
