#!/usr/bin/env python3
"""Sweep the user-space knobs of a loopback bulk transfer, TCP vs MPTCP, with no Node involved.

Runs docs/repro/mptcp-loopback-bench.c (compiled here) for each knob set, TCP and MPTCP, up and
down, interleaved within each repetition (so load drift from other processes hits both equally),
and prints one markdown row per knob set: median Gbit/s of each, MPTCP/TCP ratio of medians, and
the CPU each side burns per GiB (user+sys, getrusage) -- the load-independent figure on a shared
machine. `uptime` is printed before and after.

    python3 docs/repro/mptcp-loopback-sweep.py [--reps 5] [--bytes 1073741824] [--only NAME,...]
    python3 docs/repro/mptcp-loopback-sweep.py --list

Some rows need root: -F (SO_*BUFFORCE) and the netns rows (`ip netns add`); the netns rows run the
same binary in a fresh namespace with only its own lo up (sysctls are per namespace there).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "mptcp-loopback-bench.c")
MiB = 1 << 20

# name -> (bench args, namespace sysctls or None to run in the current namespace)
KNOBS = [
    ("default (1 MiB read/write, autotuned buffers)", [], None),
    ("read 64 KiB", ["-r", str(64 * 1024)], None),
    ("read 256 KiB", ["-r", str(256 * 1024)], None),
    ("read 4 MiB", ["-r", str(4 * MiB)], None),
    ("read 1 MiB MSG_WAITALL", ["-W"], None),
    ("write 64 KiB", ["-w", str(64 * 1024)], None),
    ("write 4 MiB", ["-w", str(4 * MiB)], None),
    ("write 16 MiB", ["-w", str(16 * MiB)], None),
    ("SO_RCVBUF+SO_SNDBUF 4 MiB", ["-R", str(4 * MiB), "-S", str(4 * MiB)], None),
    ("SO_RCVBUFFORCE+SO_SNDBUFFORCE 16 MiB", ["-F", "-R", str(16 * MiB), "-S", str(16 * MiB)], None),
    ("SO_RCVBUFFORCE 64 MiB, before connect (what @mptcp/native does)", ["-F", "-E", "-R", str(64 * MiB)], None),
    ("SO_RCVBUFFORCE+SO_SNDBUFFORCE 64 MiB, before connect", ["-F", "-E", "-R", str(64 * MiB), "-S", str(64 * MiB)], None),
    ("SO_SNDBUFFORCE 16 MiB only (rcv autotuned)", ["-F", "-S", str(16 * MiB)], None),
    ("TCP_NODELAY", ["-N"], None),
    ("TCP_NOTSENT_LOWAT 128 KiB", ["-L", str(128 * 1024)], None),
    ("TCP_NOTSENT_LOWAT 1 MiB", ["-L", str(MiB)], None),
    ("SO_RCVLOWAT 256 KiB", ["-l", str(256 * 1024)], None),
    # TCP_QUICKACK: not a knob for MPTCP: setsockopt on an MPTCP socket fails with ENOPROTOOPT (6.18).
    ("splice socket->/dev/null (rx)", ["-z"], None),
    ("vmsplice+splice (tx)", ["-v"], None),
    ("splice rx + vmsplice tx", ["-z", "-v"], None),
    ("cc bbr", ["-c", "bbr"], None),
    ("cc cubic", ["-c", "cubic"], None),
    ("cc reno", ["-c", "reno"], None),
    ("cc cubic + SO_*BUFFORCE 64 MiB before connect", ["-c", "cubic", "-F", "-E", "-R", str(64 * MiB), "-S", str(64 * MiB)], None),
    ("write 4 MiB + SO_*BUFFORCE 64 MiB before connect", ["-w", str(4 * MiB), "-F", "-E", "-R", str(64 * MiB), "-S", str(64 * MiB)], None),
    ("sender CPU0, receiver CPU1", ["-a", "0", "-A", "1"], None),
    ("sender CPU1, receiver CPU0", ["-a", "1", "-A", "0"], None),
    ("both on CPU0", ["-a", "0", "-A", "0"], None),
    ("both on CPU1", ["-a", "1", "-A", "1"], None),
    ("SO_BUSY_POLL 50 us", ["-b", "50"], None),
    ("netns own lo, defaults", [], {}),
    ("netns, mptcp.checksum_enabled=1", [], {"net.mptcp.checksum_enabled": "1"}),
    ("netns, mptcp.path_manager=userspace", [], {"net.mptcp.path_manager": "userspace"}),
    ("netns, tcp_wmem/rmem max 64 MiB", [], {"net.ipv4.tcp_wmem": "4096 16384 67108864", "net.ipv4.tcp_rmem": "4096 131072 67108864"}),
]


def build():
    out = os.path.join(tempfile.mkdtemp(prefix="mptcp-lo-"), "mptcp-loopback-bench")
    subprocess.run(["cc", "-O2", "-Wall", "-o", out, SRC], check=True)
    return out


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run(binary, proto, direction, args, nbytes, ns):
    cmd = [binary, "-p", proto, "-d", direction, "-n", str(nbytes), *args]
    if ns:
        cmd = ["ip", "netns", "exec", ns, *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def make_ns(sysctls):
    ns = f"mlo-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
    for key, value in sysctls.items():
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", f"{key}={value}"], check=True)
    return ns


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--bytes", type=int, default=1 << 30)
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--json", help="also write every sample to this file")
    a = ap.parse_args()
    if a.list:
        for i, (name, args, ns) in enumerate(KNOBS):
            print(i, name, " ".join(args), "(netns)" if ns is not None else "")
        return
    chosen = KNOBS
    if a.only:
        want = [int(x) for x in a.only.split(",")]
        chosen = [KNOBS[i] for i in want]
    binary = build()
    print(f"<!-- start: {uptime()} -->")
    print(f"{a.reps} reps x {a.bytes / MiB:.0f} MiB, TCP and MPTCP interleaved per rep; medians. CPU = user+sys s per GiB.")
    print()
    print("| knob | dir | C TCP Gbit/s | C MPTCP Gbit/s | MPTCP/TCP | CPU/GiB TCP snd+rcv | CPU/GiB MPTCP snd+rcv | MPTCP stalls | load |")
    print("|---|---|---:|---:|---:|---:|---:|---|---|")
    samples = []
    for name, args, sysctls in chosen:
        ns = make_ns(sysctls) if sysctls is not None else None
        try:
            run_knob(binary, name, args, ns, a, samples)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print(f"| {name} | - | failed: {str(e).splitlines()[0][-120:]} | | | | | | |", flush=True)
        finally:
            if ns:
                subprocess.run(["ip", "netns", "del", ns], check=False)
    print()
    print(f"<!-- end: {uptime()} -->")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(samples, f)


def run_knob(binary, name, args, ns, a, samples):
    res = {}
    for rep in range(a.reps):
        order = ["tcp", "mptcp"] if rep % 2 == 0 else ["mptcp", "tcp"]
        for direction in ("up", "down"):
            for proto in order:
                r = run(binary, proto, direction, args, a.bytes, ns)
                res.setdefault((direction, proto), []).append(r)
                samples.append({"knob": name, **r})
    load = os.getloadavg()[0]
    for direction in ("up", "down"):
        t, m = res[(direction, "tcp")], res[(direction, "mptcp")]
        tg = statistics.median(x["gbit"] for x in t)
        mg = statistics.median(x["gbit"] for x in m)

        def cpu(xs, side):
            return statistics.median(x[f"{side}_usr"] + x[f"{side}_sys"] for x in xs)

        stalls = "/".join(str(x["stalls"]) for x in m)
        print(
            f"| {name} | {direction} | {tg:.2f} | {mg:.2f} | **{mg / tg:.3f}** | "
            f"{cpu(t, 'send'):.3f}+{cpu(t, 'recv'):.3f} | {cpu(m, 'send'):.3f}+{cpu(m, 'recv'):.3f} | {stalls} | {load:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
