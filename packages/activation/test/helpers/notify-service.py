"""A Type=notify service built on python3-systemd (systemd.daemon), for the service-manager tests.

notify-service.py REPORT MODE...
  ready            READY=1 with STATUS=, then serve the socket (LISTEN_FDS) by echoing, until SIGTERM
  watchdog N       READY=1, N watchdog pings at half WATCHDOG_USEC, then hang (miss the watchdog)
  pings            READY=1, then WATCHDOG=1 with STATUS=ping N at half WATCHDOG_USEC, forever; after
                   each one sent, a line {"ping": N} in REPORT
Writes one JSON line per start to REPORT: pid, NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID, LISTEN_FDNAMES.
"""
import json, os, signal, socket, sys, time
from systemd import daemon

report, mode = sys.argv[1], sys.argv[2]
with open(report, "a") as f:
    f.write(json.dumps({
        "pid": os.getpid(),
        "notify_socket": os.environ.get("NOTIFY_SOCKET"),
        "watchdog_usec": os.environ.get("WATCHDOG_USEC"),
        "watchdog_pid": os.environ.get("WATCHDOG_PID"),
        "fdnames": os.environ.get("LISTEN_FDNAMES"),
    }) + "\n")

if mode == "ready":
    daemon.notify("READY=1\nSTATUS=serving from python3-systemd")
    fds = daemon.listen_fds()
    if not fds:
        signal.pause()
    srv = socket.socket(fileno=fds[0])
    while True:
        conn, _ = srv.accept()
        data = conn.recv(4096)
        conn.sendall(data)
        conn.close()
elif mode == "watchdog":
    n = int(sys.argv[3])
    usec = int(os.environ["WATCHDOG_USEC"])
    daemon.notify("READY=1")
    for _ in range(n):
        daemon.notify("WATCHDOG=1")
        time.sleep(usec / 2e6)
    signal.pause()
elif mode == "pings":
    usec = int(os.environ["WATCHDOG_USEC"])
    daemon.notify("READY=1")
    n = 0
    while True:
        n += 1
        daemon.notify("WATCHDOG=1\nSTATUS=ping %d" % n)
        with open(report, "a") as f:
            f.write(json.dumps({"ping": n}) + "\n")
        time.sleep(usec / 2e6)

