# Echo server, one thread per connection, echoing until EOF. Prints "LISTENING port" once bound, then
# one JSON line per connection.
#   echo-server.py PROTO HOST PORT   AF_INET stream; PROTO 262 (MPTCP) or 0 (TCP); PORT 0: any
#   echo-server.py unix PATH         AF_UNIX stream bound at PATH (port printed as 0)
import json, socket, sys, threading
if sys.argv[1] == 'unix':
    l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    l.bind(sys.argv[2])
    port = 0
else:
    proto, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((host, port))
    port = l.getsockname()[1]
l.listen(16)
print('LISTENING', port, flush=True)
def serve(c):
    proto = c.getsockopt(socket.SOL_SOCKET, socket.SO_PROTOCOL)
    print(json.dumps({'accepted': True, 'protocol': proto}), flush=True)
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
