"""Sends its argument as one sd_notify message with python3-systemd (from this process' own PID),
then stays alive until killed when --stay is given (the manager maps the sender to its service by
reading /proc/PID while the message is processed; an already-exited sender cannot be mapped)."""
import signal, sys
from systemd import daemon

daemon.notify(sys.argv[1])
if "--stay" in sys.argv[2:]:
    signal.pause()
