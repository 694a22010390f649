/*
 * mptcp-slow-reader: bulk transfer over TCP or MPTCP whose receiver reads like Node.js does
 * (READSIZE bytes per recv, then PAUSE_US of CPU work), and counts the stalls (gaps > 100 ms
 * between two successful reads while the sender still has data).
 *
 *   cc -O2 -Wall -o mptcp-slow-reader mptcp-slow-reader.c
 *   ./mptcp-slow-reader server PORT [options]          # serves exactly one connection
 *   ./mptcp-slow-reader client HOST PORT [options]
 *
 * options (each side takes the ones it needs; both sides print one JSON line):
 *   -p tcp|mptcp     protocol (default mptcp)
 *   -s               this side sends (default: the client receives from... see -s on either side;
 *                    exactly one side must have -s)
 *   -n BYTES         bytes the sender sends (default 256 MiB)
 *   -r READSIZE      bytes per recv() on the receiver (default 65536, as libuv)
 *   -u PAUSE_US      busy CPU time after each recv (default 0; Node spends 20-50 us per 64 KiB chunk)
 *   -c CC            TCP_CONGESTION for this side's socket (MPTCP: applied to every subflow)
 *   -l LOWAT         SO_RCVLOWAT on the receiving socket
 *   -q               TCP_QUICKACK after every recv on the receiving socket
 *   -k MS            sender: non-blocking send(); when poll(POLLOUT) saw nothing for MS ms, try
 *                    send() again anyway (the workaround: the retry finds room that POLLOUT never
 *                    reported, and its push restarts the transfer)
 *   -E               apply the socket options before listen()/connect() (the accepted socket
 *                    inherits them) instead of on the connected socket
 *   -K MS            sender: as -k, but instead of retrying, setsockopt(TCP_NODELAY, 1) and wait
 *                    for POLLOUT again (shows that pushing the pending data alone does not help)
 *   -b BYTES         SO_RCVBUF (receiver) / SO_SNDBUF (sender) for this side's socket
 *   -B BYTES         as -b with SO_RCVBUFFORCE / SO_SNDBUFFORCE (CAP_NET_ADMIN; not capped by
 *                    net.core.rmem_max / wmem_max)
 *   -N BYTES         sender: TCP_NOTSENT_LOWAT
 *   -G MAXBYTES      sender, with -k: on each kick, double SO_SNDBUF (SO_SNDBUFFORCE when
 *                    permitted) up to MAXBYTES before retrying: new data leaves, and the ACKs it
 *                    draws carry the receiver's current DATA_ACK (the lever @mptcp/native uses)
 *
 * No dependency beyond libc; Linux >= 5.6 for MPTCP.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "mptcp-slow-reader: %s: %s\n", what, strerror(errno));
  exit(1);
}

struct opts {
  int proto, sender, quickack, lowat, buf, kick_ms, nodelay_kick, force, notsent, grow_max, early;
  long long bytes;
  size_t readsize;
  long pause_us;
  const char *cc;
};

static void tune(int fd, const struct opts *o) {
  if (o->cc && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, o->cc, strlen(o->cc)) < 0) die("setsockopt TCP_CONGESTION");
  int bufopt = o->force ? (o->sender ? SO_SNDBUFFORCE : SO_RCVBUFFORCE) : (o->sender ? SO_SNDBUF : SO_RCVBUF);
  if (o->buf > 0 && setsockopt(fd, SOL_SOCKET, bufopt, &o->buf, sizeof(o->buf)) < 0) die("setsockopt SO_RCVBUF/SO_SNDBUF");
  if (o->sender && o->notsent > 0 && setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &o->notsent, sizeof(o->notsent)) < 0) die("setsockopt TCP_NOTSENT_LOWAT");
  if (!o->sender && o->lowat > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &o->lowat, sizeof(o->lowat)) < 0) die("setsockopt SO_RCVLOWAT");
}

static void busy(long us) {
  if (us <= 0) return;
  double end = now() + us / 1e6;
  while (now() < end) {
  }
}

static int run(int fd, const struct opts *o) {
  char proto_name[8];
  snprintf(proto_name, sizeof proto_name, "%s", o->proto == IPPROTO_MPTCP ? "mptcp" : "tcp");
  if (o->sender) {
    size_t chunk = 1 << 20;
    char *buf = malloc(chunk);
    for (size_t i = 0; i < chunk; i++) buf[i] = (char)(i * 2654435761u >> 24);
    long long sent = 0;
    int kicks = 0, one = 1;
    double t0 = now();
    while (sent < o->bytes) {
      size_t n = (size_t)(o->bytes - sent < (long long)chunk ? o->bytes - sent : (long long)chunk);
      ssize_t w = send(fd, buf, n, MSG_NOSIGNAL | (o->kick_ms > 0 ? MSG_DONTWAIT : 0));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, o->kick_ms) == 0) {
          kicks++;
          if (o->grow_max > 0) {
            int cur = 0;
            socklen_t sl = sizeof cur;
            getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cur, &sl);
            int want = cur < o->grow_max / 2 ? cur * 2 : o->grow_max;
            if (want > cur && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) < 0)
              setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
          }
          if (o->nodelay_kick) {
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            p.revents = 0;
            poll(&p, 1, -1);
          }
        }
        continue;
      }
      if (w < 0) die("send");
      sent += w;
    }
    shutdown(fd, SHUT_WR);
    char tmp[64];
    while (recv(fd, tmp, sizeof tmp, 0) > 0) {
    }
    printf("{\"role\":\"send\",\"proto\":\"%s\",\"bytes\":%lld,\"seconds\":%.6f,\"kicks\":%d}\n", proto_name, sent, now() - t0, kicks);
    return 0;
  }
  char *buf = malloc(o->readsize);
  long long got = 0;
  int stalls = 0;
  double t0 = 0, last = 0, max_gap = 0;
  int one = 1;
  for (;;) {
    ssize_t r = recv(fd, buf, o->readsize, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("recv");
    if (r == 0) break;
    double t = now();
    if (t0 == 0) t0 = last = t;
    double gap = t - last;
    if (gap > max_gap) max_gap = gap;
    if (gap > 0.1) stalls++;
    got += r;
    if (o->quickack) setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    busy(o->pause_us);
    last = now();
  }
  double secs = last - t0;
  printf("{\"role\":\"recv\",\"proto\":\"%s\",\"bytes\":%lld,\"seconds\":%.6f,\"gbit\":%.3f,\"stalls\":%d,\"maxGapMs\":%.1f}\n", proto_name, got, secs,
         secs > 0 ? got * 8 / secs / 1e9 : 0.0, stalls, max_gap * 1000);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s server PORT [opts] | client HOST PORT [opts]\n", argv[0]);
    return 2;
  }
  int server = strcmp(argv[1], "server") == 0;
  const char *host = server ? "0.0.0.0" : argv[2];
  const char *port = server ? argv[2] : argv[3];
  struct opts o = {IPPROTO_MPTCP, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 256LL << 20, 65536, 0, NULL};
  optind = server ? 3 : 4;
  int c;
  while ((c = getopt(argc, argv, "p:sn:r:u:c:l:qb:B:N:G:Ek:K:")) != -1) {
    switch (c) {
      case 'p': o.proto = strcmp(optarg, "tcp") == 0 ? IPPROTO_TCP : IPPROTO_MPTCP; break;
      case 's': o.sender = 1; break;
      case 'n': o.bytes = atoll(optarg); break;
      case 'r': o.readsize = (size_t)atol(optarg); break;
      case 'u': o.pause_us = atol(optarg); break;
      case 'c': o.cc = optarg; break;
      case 'l': o.lowat = atoi(optarg); break;
      case 'q': o.quickack = 1; break;
      case 'b': o.buf = atoi(optarg); break;
      case 'B': o.buf = atoi(optarg); o.force = 1; break;
      case 'N': o.notsent = atoi(optarg); break;
      case 'G': o.grow_max = atoi(optarg); break;
      case 'E': o.early = 1; break;
      case 'k': o.kick_ms = atoi(optarg); break;
      case 'K': o.kick_ms = atoi(optarg); o.nodelay_kick = 1; break;
      default: return 2;
    }
  }
  struct addrinfo hints = {0}, *ai;
  hints.ai_family = server ? AF_INET : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = server ? AI_PASSIVE : 0;
  if (getaddrinfo(server ? NULL : host, port, &hints, &ai) != 0) die("getaddrinfo");
  int fd = socket(ai->ai_family, SOCK_STREAM, o.proto);
  if (fd < 0) die("socket");
  if (o.early) tune(fd, &o);
  if (server) {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) die("bind");
    if (listen(fd, 1) < 0) die("listen");
    printf("LISTENING\n");
    fflush(stdout);
    int c2 = accept(fd, NULL, NULL);
    if (c2 < 0) die("accept");
    close(fd);
    fd = c2;
  } else if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    die("connect");
  }
  if (!o.early) tune(fd, &o);
  int r = run(fd, &o);
  close(fd);
  return r;
}
