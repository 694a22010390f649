/*
 * mptcp-rr-bench: small request/response traffic over 127.0.0.1, TCP or MPTCP,
 * the kernel alone (no Node). The pattern of `bench --only http` (autocannon -c
 * 10 against a keep-alive node:http server): one server process and one client
 * process, each one epoll loop, CONNS keep-alive connections, each with one
 * request in flight (110 bytes up, 160 bytes down), TCP_NODELAY on both ends,
 * as Node sets it. Prints one JSON line: requests per second (client side) and
 * CPU microseconds per request of each process (user + sys from getrusage; on
 * loopback the softirq work runs in them).
 *
 *   cc -O2 -Wall -o /tmp/mptcp-rr-bench docs/repro/mptcp-rr-bench.c
 *   /tmp/mptcp-rr-bench -p tcp   -s 5 -c 10
 *   /tmp/mptcp-rr-bench -p mptcp -s 5 -c 10 [-B 67108864]   (-B: SO_*BUFFORCE
 * before the handshake, as reported)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#define REQ 110
#define RESP 160
#define MAXFD 4096

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_self(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec +
         r.ru_stime.tv_usec / 1e6;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void preset(int s, int bytes) {
  if (bytes <= 0)
    return;
  int half = bytes / 2; /* the kernel doubles it */
  if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &half, sizeof half) < 0)
    die("SO_RCVBUFFORCE");
  if (setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &half, sizeof half) < 0)
    die("SO_SNDBUFFORCE");
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0)
      die("write");
    p += w;
    n -= (size_t)w;
  }
}

int main(int argc, char **argv) {
  int proto = 0, conns = 10, buf_preset = 0, opt;
  double seconds = 5;
  while ((opt = getopt(argc, argv, "p:s:c:B:")) != -1) {
    if (opt == 'p')
      proto = strcmp(optarg, "mptcp") == 0 ? IPPROTO_MPTCP : 0;
    else if (opt == 's')
      seconds = atof(optarg);
    else if (opt == 'c')
      conns = atoi(optarg);
    else if (opt == 'B')
      buf_preset = atoi(optarg);
    else {
      fprintf(
          stderr,
          "usage: %s -p tcp|mptcp [-s seconds] [-c connections] [-B bytes]\n",
          argv[0]);
      return 2;
    }
  }
  if (conns < 1 || conns > 1000)
    conns = 10;
  int one = 1;
  int ls = socket(AF_INET, SOCK_STREAM, proto);
  if (ls < 0)
    die("socket");
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  preset(ls, buf_preset);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(0x7f000001)};
  if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0)
    die("bind");
  if (listen(ls, 128) < 0)
    die("listen");
  socklen_t al = sizeof a;
  getsockname(ls, (struct sockaddr *)&a, &al);
  int pipefd[2];
  if (pipe(pipefd) < 0)
    die("pipe");
  static char buf[65536], req[REQ], resp[RESP];
  memset(req, 'q', REQ);
  memset(resp, 'r', RESP);

  pid_t pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) { /* server: answers every complete request, until all
                     connections have closed */
    static int have[MAXFD];
    int ep = epoll_create1(0), open = 0, seen = 0;
    long served = 0;
    struct epoll_event e = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &e);
    double c0 = cpu_self();
    for (;;) {
      struct epoll_event ev[64];
      int n = epoll_wait(ep, ev, 64, -1);
      for (int i = 0; i < n; i++) {
        int fd = ev[i].data.fd;
        if (fd == ls) {
          int s = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
          if (s < 0 || s >= MAXFD)
            die("accept");
          setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event e2 = {.events = EPOLLIN, .data.fd = s};
          epoll_ctl(ep, EPOLL_CTL_ADD, s, &e2);
          open++;
          seen++;
          continue;
        }
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0) {
          close(fd);
          if (--open == 0 && seen == conns) {
            double used = cpu_self() - c0;
            write_all(pipefd[1], (char *)&served, sizeof served);
            write_all(pipefd[1], (char *)&used, sizeof used);
            _exit(0);
          }
          continue;
        }
        have[fd] += (int)r;
        while (have[fd] >= REQ) {
          have[fd] -= REQ;
          write_all(fd, resp, RESP);
          served++;
        }
      }
    }
  }
  close(ls);
  static int have[MAXFD];
  int ep = epoll_create1(0), fds[1000];
  long done = 0;
  for (int i = 0; i < conns; i++) {
    int s = socket(AF_INET, SOCK_STREAM, proto);
    if (s < 0 || s >= MAXFD)
      die("socket");
    preset(s, buf_preset);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0)
      die("connect");
    fcntl(s, F_SETFL, O_NONBLOCK);
    fds[i] = s;
    struct epoll_event e = {.events = EPOLLIN, .data.fd = s};
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &e);
  }
  double c0 = cpu_self(), t0 = now(), end = t0 + seconds;
  for (int i = 0; i < conns; i++)
    write_all(fds[i], req, REQ);
  while (now() < end) {
    struct epoll_event ev[64];
    int n = epoll_wait(ep, ev, 64, 100);
    for (int i = 0; i < n; i++) {
      int fd = ev[i].data.fd;
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0)
        die("read");
      have[fd] += (int)r;
      while (have[fd] >= RESP) {
        have[fd] -= RESP;
        done++;
        write_all(fd, req, REQ);
      }
    }
  }
  double t = now() - t0, used = cpu_self() - c0;
  for (int i = 0; i < conns; i++)
    close(fds[i]);
  long served = 0;
  double srv_used = 0;
  if (read(pipefd[0], &served, sizeof served) != sizeof served)
    die("read result");
  if (read(pipefd[0], &srv_used, sizeof srv_used) != sizeof srv_used)
    die("read result");
  waitpid(pid, NULL, 0);
  printf("{\"proto\":\"%s\",\"connections\":%d,\"preset\":%d,\"seconds\":%.3f,"
         "\"requests\":%ld,"
         "\"rps\":%.1f,\"client_cpu_us\":%.3f,\"server_cpu_us\":%.3f}\n",
         proto ? "mptcp" : "tcp", conns, buf_preset, t, done, done / t,
         used * 1e6 / (done ? done : 1),
         srv_used * 1e6 / (served ? served : 1));
  return 0;
}
