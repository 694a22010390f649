// The primitives of a file descriptor store (systemd's FileDescriptorStoreMax=): an epoll set that
// reports when a stored fd hangs up, and the "same open file?" test that suppresses duplicates.
//
// libuv's uv_poll cannot watch an fd for EPOLLHUP/EPOLLERR alone (events = 0), and polling a stored
// fd for readability would fire for every byte a peer sends. So the stored fds go into one epoll set
// of their own with events 0 (the kernel always reports EPOLLHUP and EPOLLERR); the epoll fd itself is
// readable while an entry is pending, and TypeScript watches that with uv_poll.
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addon.h"

#ifndef F_DUPFD_QUERY
#define F_DUPFD_QUERY 1027  // F_LINUX_SPECIFIC_BASE + 3, Linux 6.10
#endif
#ifndef KCMP_FILE
#define KCMP_FILE 0
#endif

namespace mptcp_native {
namespace {

// epollCreate(): a close-on-exec epoll fd, or -errno.
Napi::Value EpollCreate(const Napi::CallbackInfo& info) {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), fd);
}

// epollWatchHangup(epfd, fd): adds fd with events 0 (only EPOLLHUP/EPOLLERR are reported): 0 or
// -errno (-EPERM: the fd does not support polling, e.g. a regular file).
Napi::Value EpollWatchHangup(const Napi::CallbackInfo& info) {
  int epfd, fd;
  if (!ArgInt(info, 0, &epfd) || !ArgInt(info, 1, &fd)) return info.Env().Undefined();
  epoll_event ev{};
  ev.events = 0;
  ev.data.fd = fd;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), 0);
}

// epollUnwatch(epfd, fd): removes fd (before it is closed: a dup elsewhere would keep the entry): 0 or -errno.
Napi::Value EpollUnwatch(const Napi::CallbackInfo& info) {
  int epfd, fd;
  if (!ArgInt(info, 0, &epfd) || !ArgInt(info, 1, &fd)) return info.Env().Undefined();
  epoll_event ev{};
  if (epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), 0);
}

// epollPending(epfd): the entries that have an event now, without waiting: [{ fd, events }] or -errno.
Napi::Value EpollPending(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int epfd;
  if (!ArgInt(info, 0, &epfd)) return env.Undefined();
  epoll_event evs[64];
  int n;
  do n = epoll_wait(epfd, evs, 64, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Errno(env, errno);
  Napi::Array out = Napi::Array::New(env, n);
  for (int i = 0; i < n; i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("fd", Napi::Number::New(env, evs[i].data.fd));
    o.Set("events", Napi::Number::New(env, evs[i].events));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// systemd's same_fd(): whether a and b are the same open file description (not merely the same
// inode). F_DUPFD_QUERY (6.10), else kcmp(KCMP_FILE), else the inode plus a flag probe.
int SameFd(int a, int b) {
  if (a == b) return 1;
  int r = fcntl(a, F_DUPFD_QUERY, b);
  if (r >= 0) return r > 0 ? 1 : 0;
  if (errno == EBADF) return -EBADF;
  pid_t pid = getpid();
  r = static_cast<int>(syscall(SYS_kcmp, pid, pid, KCMP_FILE, a, b));
  if (r >= 0) return r == 0 ? 1 : 0;
  if (errno != ENOSYS && errno != EACCES && errno != EPERM) return -errno;
  struct stat sa, sb;
  if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0) return -errno;
  if (sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino || ((sa.st_mode ^ sb.st_mode) & S_IFMT) != 0) return 0;
  int fa = fcntl(a, F_GETFL), fb = fcntl(b, F_GETFL);
  if (fa < 0 || fb < 0) return -errno;
  if (fa != fb) return 0;  // e.g. the two ends of one pipe
  // Same inode and flags: the same description iff toggling O_NONBLOCK on one shows on the other.
  if (fcntl(a, F_SETFL, fa ^ O_NONBLOCK) < 0) return -errno;
  int seen = fcntl(b, F_GETFL);
  int err = errno;
  fcntl(a, F_SETFL, fa);
  if (seen < 0) return -err;
  return seen != fb ? 1 : 0;
}

// sameFd(a, b): true/false, or -errno.
Napi::Value SameFdJs(const Napi::CallbackInfo& info) {
  int a, b;
  if (!ArgInt(info, 0, &a) || !ArgInt(info, 1, &b)) return info.Env().Undefined();
  int r = SameFd(a, b);
  if (r < 0) return Errno(info.Env(), -r);
  return Napi::Boolean::New(info.Env(), r > 0);
}

}  // namespace

void InitFdStore(Napi::Env env, Napi::Object exports) {
  exports.Set("epollCreate", Napi::Function::New(env, EpollCreate, "epollCreate"));
  exports.Set("epollWatchHangup", Napi::Function::New(env, EpollWatchHangup, "epollWatchHangup"));
  exports.Set("epollUnwatch", Napi::Function::New(env, EpollUnwatch, "epollUnwatch"));
  exports.Set("epollPending", Napi::Function::New(env, EpollPending, "epollPending"));
  exports.Set("sameFd", Napi::Function::New(env, SameFdJs, "sameFd"));
  Napi::Object ev = Napi::Object::New(env);
  ev.Set("EPOLLHUP", Napi::Number::New(env, EPOLLHUP));
  ev.Set("EPOLLERR", Napi::Number::New(env, EPOLLERR));
  exports.Set("epollEvents", ev);
}

}  // namespace mptcp_native
