"""Sends its argument as one sd_notify message with python3-systemd (from this process' own PID)."""
import sys
from systemd import daemon

daemon.notify(sys.argv[1])
