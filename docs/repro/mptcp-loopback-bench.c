/*
 * mptcp-loopback-bench: one bulk transfer over loopback (TCP or MPTCP), sender and receiver in two
 * processes (fork), every knob user space controls on the command line. Prints one JSON line with
 * the receiver's rate and both processes' CPU time (user/sys, from getrusage) so "where the CPU
 * goes" is part of every figure. No Node, no dependency beyond libc; Linux >= 5.6 for MPTCP.
 *
 *   cc -O2 -Wall -o mptcp-loopback-bench mptcp-loopback-bench.c
 *   ./mptcp-loopback-bench -p mptcp -n 1073741824
 *   taskset/netns: run it under `ip netns exec NS` for a namespace's own lo.
 *
 * options:
 *   -p tcp|mptcp     protocol (default mptcp)
 *   -n BYTES         bytes to transfer (default 1 GiB)
 *   -d up|down       up: the connecting side sends (default); down: the accepted side sends
 *   -r BYTES         receiver: bytes per recv() (default 1 MiB)
 *   -w BYTES         sender: bytes per send() (default 1 MiB)
 *   -R BYTES         receiver: SO_RCVBUF (default: not set, autotuning)
 *   -S BYTES         sender: SO_SNDBUF (default: not set, autotuning)
 *   -F               use SO_RCVBUFFORCE/SO_SNDBUFFORCE for -R/-S (not capped by rmem_max/wmem_max)
 *   -E               set the options before listen()/connect() (the accepted socket inherits them)
 *   -N               both: TCP_NODELAY
 *   -L BYTES         sender: TCP_NOTSENT_LOWAT
 *   -W               receiver: recv(MSG_WAITALL)
 *   -l BYTES         receiver: SO_RCVLOWAT
 *   -z               receiver: splice() socket -> pipe -> /dev/null (no copy to user space)
 *   -v               sender: vmsplice() a user buffer into a pipe, splice() pipe -> socket
 *   -c CC            both: TCP_CONGESTION (on an MPTCP socket it sets the subflows')
 *   -a CPU           pin the sender to CPU (sched_setaffinity); -A CPU the receiver
 *   -b USEC          both: SO_BUSY_POLL
 *   -q               receiver: TCP_QUICKACK after every recv
 *
 * Output: {"proto":..,"gbit":..,"seconds":..,"send_usr":..,"send_sys":..,"recv_usr":..,"recv_sys":..,
 *          "recv_calls":..,"send_calls":..,"max_gap_ms":..,"stalls":..} (CPU in seconds per GiB moved,
 *          of the two processes only: softirq work done in ksoftirqd and MPTCP's kworker is not in it;
 *          max_gap_ms: longest time between two reads; stalls: gaps > 100 ms; send_vcsw/recv_vcsw:
 *          voluntary context switches per GiB, i.e. how often each side blocked and was woken).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SO_BUSY_POLL
#define SO_BUSY_POLL 46
#endif

struct opts {
  int proto, down, rcvbuf, sndbuf, force, early, nodelay, notsent, waitall, rcvlowat, splice_rx, vmsplice_tx;
  int cpu_send, cpu_recv, busy_poll, quickack;
  long long bytes;
  size_t readsize, writesize;
  const char *cc;
};

static void die(const char *what) {
  fprintf(stderr, "mptcp-loopback-bench: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void setint(int fd, int level, int name, int value, const char *what) {
  if (setsockopt(fd, level, name, &value, sizeof value) < 0) die(what);
}

/* Options for the side that sends (sender=1) or receives (sender=0). */
static void tune(int fd, const struct opts *o, int sender) {
  if (o->cc && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, o->cc, strlen(o->cc)) < 0) die("setsockopt TCP_CONGESTION");
  if (o->nodelay) setint(fd, IPPROTO_TCP, TCP_NODELAY, 1, "setsockopt TCP_NODELAY");
  if (o->busy_poll > 0) setint(fd, SOL_SOCKET, SO_BUSY_POLL, o->busy_poll, "setsockopt SO_BUSY_POLL");
  if (sender) {
    if (o->sndbuf > 0) setint(fd, SOL_SOCKET, o->force ? SO_SNDBUFFORCE : SO_SNDBUF, o->sndbuf, "setsockopt SO_SNDBUF");
    if (o->notsent > 0) setint(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, o->notsent, "setsockopt TCP_NOTSENT_LOWAT");
  } else {
    if (o->rcvbuf > 0) setint(fd, SOL_SOCKET, o->force ? SO_RCVBUFFORCE : SO_RCVBUF, o->rcvbuf, "setsockopt SO_RCVBUF");
    if (o->rcvlowat > 0) setint(fd, SOL_SOCKET, SO_RCVLOWAT, o->rcvlowat, "setsockopt SO_RCVLOWAT");
  }
}

static void pin(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) < 0) die("sched_setaffinity");
}

static long long sender(int fd, const struct opts *o) {
  size_t chunk = o->writesize;
  char *buf = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) die("mmap");
  for (size_t i = 0; i < chunk; i++) buf[i] = (char)(i * 2654435761u >> 24);
  long long sent = 0, calls = 0;
  int p[2] = {-1, -1};
  if (o->vmsplice_tx) {
    if (pipe(p) < 0) die("pipe");
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
  }
  while (sent < o->bytes) {
    size_t n = (size_t)(o->bytes - sent < (long long)chunk ? o->bytes - sent : (long long)chunk);
    calls++;
    if (o->vmsplice_tx) {
      struct iovec iov = {buf, n};
      ssize_t in = vmsplice(p[1], &iov, 1, 0);
      if (in < 0) die("vmsplice");
      ssize_t left = in;
      while (left > 0) {
        ssize_t w = splice(p[0], NULL, fd, NULL, (size_t)left, SPLICE_F_MORE);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die("splice to socket");
        left -= w;
      }
      sent += in;
      continue;
    }
    ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) die("send");
    sent += w;
  }
  shutdown(fd, SHUT_WR);
  char tmp[64];
  while (recv(fd, tmp, sizeof tmp, 0) > 0) {
  }
  return calls;
}

static double max_gap;
static int stalls;

static void receiver(int fd, const struct opts *o, double *seconds, long long *got, long long *calls) {
  char *buf = mmap(NULL, o->readsize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) die("mmap");
  int p[2] = {-1, -1}, devnull = -1;
  if (o->splice_rx) {
    if (pipe(p) < 0) die("pipe");
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    devnull = open("/dev/null", O_WRONLY);
    if (devnull < 0) die("open /dev/null");
  }
  double t0 = 0, last = 0;
  *got = 0;
  *calls = 0;
  for (;;) {
    ssize_t r;
    if (o->splice_rx) {
      r = splice(fd, NULL, p[1], NULL, o->readsize, SPLICE_F_MOVE);
      if (r > 0) {
        ssize_t left = r;
        while (left > 0) {
          ssize_t d = splice(p[0], NULL, devnull, NULL, (size_t)left, SPLICE_F_MOVE);
          if (d <= 0) die("splice to /dev/null");
          left -= d;
        }
      }
    } else {
      r = recv(fd, buf, o->readsize, o->waitall ? MSG_WAITALL : 0);
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("recv");
    if (r == 0) break;
    double t = now();
    if (*got == 0) t0 = t;
    else if (t - last > max_gap) max_gap = t - last;
    if (*got && t - last > 0.1) stalls++;
    last = t;
    *got += r;
    (*calls)++;
    if (o->quickack) setint(fd, IPPROTO_TCP, TCP_QUICKACK, 1, "setsockopt TCP_QUICKACK");
  }
  *seconds = now() - t0;
}

static double tv(struct timeval t) { return t.tv_sec + t.tv_usec / 1e6; }

int main(int argc, char **argv) {
  struct opts o = {.proto = IPPROTO_MPTCP, .bytes = 1LL << 30, .readsize = 1 << 20, .writesize = 1 << 20, .cpu_send = -1, .cpu_recv = -1};
  int c;
  while ((c = getopt(argc, argv, "p:n:d:r:w:R:S:FENL:Wl:zvc:a:A:b:q")) != -1) {
    switch (c) {
      case 'p': o.proto = strcmp(optarg, "tcp") == 0 ? IPPROTO_TCP : IPPROTO_MPTCP; break;
      case 'n': o.bytes = atoll(optarg); break;
      case 'd': o.down = strcmp(optarg, "down") == 0; break;
      case 'r': o.readsize = (size_t)atoll(optarg); break;
      case 'w': o.writesize = (size_t)atoll(optarg); break;
      case 'R': o.rcvbuf = atoi(optarg); break;
      case 'S': o.sndbuf = atoi(optarg); break;
      case 'F': o.force = 1; break;
      case 'E': o.early = 1; break;
      case 'N': o.nodelay = 1; break;
      case 'L': o.notsent = atoi(optarg); break;
      case 'W': o.waitall = 1; break;
      case 'l': o.rcvlowat = atoi(optarg); break;
      case 'z': o.splice_rx = 1; break;
      case 'v': o.vmsplice_tx = 1; break;
      case 'c': o.cc = optarg; break;
      case 'a': o.cpu_send = atoi(optarg); break;
      case 'A': o.cpu_recv = atoi(optarg); break;
      case 'b': o.busy_poll = atoi(optarg); break;
      case 'q': o.quickack = 1; break;
      default: fprintf(stderr, "usage: see the comment at the top of %s\n", __FILE__); return 2;
    }
  }
  int lfd = socket(AF_INET, SOCK_STREAM, o.proto);
  if (lfd < 0) die("socket (listener)");
  setint(lfd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt SO_REUSEADDR");
  /* -E: the listener carries the accepted side's options (down: it sends, up: it receives). */
  if (o.early) tune(lfd, &o, o.down);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(lfd, 1) < 0) die("listen");
  if (getsockname(lfd, (struct sockaddr *)&a, &al) < 0) die("getsockname");

  int out[2];
  if (pipe(out) < 0) die("pipe");
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    /* The connecting side: sends when up, receives when down. */
    close(lfd);
    close(out[0]);
    int sending = !o.down;
    pin(sending ? o.cpu_send : o.cpu_recv);
    int fd = socket(AF_INET, SOCK_STREAM, o.proto);
    if (fd < 0) die("socket");
    if (o.early) tune(fd, &o, sending);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
    if (!o.early) tune(fd, &o, sending);
    dup2(out[1], 1);
    if (sending) {
      printf("%lld\n", sender(fd, &o));
      fflush(stdout);
    } else {
      double s;
      long long got, calls;
      receiver(fd, &o, &s, &got, &calls);
      printf("%lld %lld %.9f %.6f %d\n", got, calls, s, max_gap, stalls);
      fflush(stdout);
    }
    close(fd);
    _exit(0);
  }
  close(out[1]);
  int accepting_sends = o.down;
  pin(accepting_sends ? o.cpu_send : o.cpu_recv);
  int fd = accept(lfd, NULL, NULL);
  if (fd < 0) die("accept");
  if (!o.early) tune(fd, &o, accepting_sends);
  long long got = 0, rcalls = 0, scalls = 0;
  double seconds = 0;
  if (accepting_sends) {
    scalls = sender(fd, &o);
  } else {
    receiver(fd, &o, &seconds, &got, &rcalls);
  }
  close(fd);
  char line[256] = {0};
  ssize_t k = 0, t;
  while ((t = read(out[0], line + k, sizeof line - 1 - (size_t)k)) > 0) k += t;
  int status;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "mptcp-loopback-bench: child failed\n");
    return 1;
  }
  if (accepting_sends) {
    if (sscanf(line, "%lld %lld %lf %lf %d", &got, &rcalls, &seconds, &max_gap, &stalls) != 5) {
      fprintf(stderr, "mptcp-loopback-bench: no result from the receiving child\n");
      return 1;
    }
  } else {
    scalls = atoll(line); /* the sending child's send() count */
  }
  if (got != o.bytes) {
    fprintf(stderr, "mptcp-loopback-bench: received %lld of %lld bytes\n", got, o.bytes);
    return 1;
  }
  struct rusage self, kid;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kid);
  struct rusage *snd = accepting_sends ? &self : &kid, *rcv = accepting_sends ? &kid : &self;
  double gib = (double)got / (1 << 30);
  printf("{\"proto\":\"%s\",\"dir\":\"%s\",\"gbit\":%.3f,\"seconds\":%.4f,\"send_usr\":%.3f,\"send_sys\":%.3f,"
         "\"recv_usr\":%.3f,\"recv_sys\":%.3f,\"recv_calls\":%lld,\"send_calls\":%lld,\"max_gap_ms\":%.1f,\"stalls\":%d,"
         "\"send_vcsw\":%.0f,\"recv_vcsw\":%.0f}\n",
         o.proto == IPPROTO_MPTCP ? "mptcp" : "tcp", o.down ? "down" : "up", got * 8 / seconds / 1e9, seconds,
         tv(snd->ru_utime) / gib, tv(snd->ru_stime) / gib, tv(rcv->ru_utime) / gib, tv(rcv->ru_stime) / gib, rcalls, scalls, max_gap * 1e3, stalls, snd->ru_nvcsw / gib, rcv->ru_nvcsw / gib);
  return 0;
}
