import json, socket, sys
port, proto, data = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
s.settimeout(8)
s.connect(('127.0.0.1', port))
try:
    is_mptcp = s.getsockopt(socket.SOL_TCP, 43)
except OSError:
    is_mptcp = -1
s.sendall(data); s.shutdown(socket.SHUT_WR)
buf = b''
while True:
    d = s.recv(65536)
    if not d: break
    buf += d
print('RESULT ' + json.dumps({'received': buf.decode(errors='replace'), 'isMptcp': is_mptcp, 'protocol': s.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)}), flush=True)
