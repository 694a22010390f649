import json, socket, sys, threading
proto, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((host, port)); l.listen(16)
print('LISTENING', l.getsockname()[1], flush=True)
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
