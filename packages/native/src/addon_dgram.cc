// sendmsg(2) with SCM_RIGHTS and recvmsg(2) with SCM_CREDENTIALS + SCM_PIDFD + SCM_RIGHTS on AF_UNIX
// datagram sockets: what the sd_notify protocol needs on both ends (a service storing fds with
// FDSTORE=1; the manager's notify socket checking the sender against NotifyAccess=), and the pidfd
// primitives that identify a sender (or a main process that is not our child) beyond its PID.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

#include "addon.h"

namespace mptcp_native {

// The most fds one message may carry (the kernel's SCM_MAX_FD is 253).
static constexpr size_t kMaxFds = 253;

// SO_PASSPIDFD: asm-generic/socket.h, SCM_PIDFD: linux/socket.h (Linux 6.5); libc headers may predate them.
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 4
#endif

// sendWithFds(fd, buffer, fds[]) → bytes sent | -errno. One datagram on a connected socket, the fds
// attached as SCM_RIGHTS (none: a plain send).
static Napi::Value SendWithFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  if (info.Length() < 3 || !info[1].IsBuffer() || !info[2].IsArray()) {
    Napi::TypeError::New(env, "sendWithFds(fd, Buffer, number[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto b = info[1].As<Napi::Buffer<uint8_t>>();
  auto arr = info[2].As<Napi::Array>();
  if (arr.Length() > kMaxFds) return Errno(env, EINVAL);
  std::vector<int> fds;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr[i];
    if (!v.IsNumber()) {
      Napi::TypeError::New(env, "fds must be numbers").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    fds.push_back(v.As<Napi::Number>().Int32Value());
  }
  iovec iov{b.Data(), b.Length()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Errno(env, errno);
  return Napi::Number::New(env, static_cast<double>(n));
}

// recvWithCredentials(fd, maxBytes, maxFds) → { data, pid, uid, gid, fds, truncated } | null (EAGAIN)
// | -errno. One datagram, MSG_DONTWAIT; received fds are close-on-exec. pid/uid/gid are -1 when the
// socket lacks SO_PASSCRED. `truncated` when the payload or the control data did not fit: the caller
// must close `fds` and drop the message (systemd does the same).
static Napi::Value RecvWithCredentials(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, maxBytes, maxFds;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &maxBytes) || !ArgInt(info, 2, &maxFds)) return env.Undefined();
  if (maxBytes < 0 || maxFds < 0 || static_cast<size_t>(maxFds) > kMaxFds) return Errno(env, EINVAL);
  std::vector<uint8_t> buf(static_cast<size_t>(maxBytes) + 1);
  std::vector<char> control(CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int)) /* SCM_PIDFD */ +
                            CMSG_SPACE(sizeof(int) * static_cast<size_t>(maxFds > 0 ? maxFds : 1)));
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  do {
    n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return env.Null();
    return Errno(env, errno);
  }
  bool truncated =
      (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || static_cast<size_t>(n) > static_cast<size_t>(maxBytes);
  int pid = -1, uid = -1, gid = -1, pidfd = -1;
  Napi::Array fds = Napi::Array::New(env);
  uint32_t nfds = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(ucred))) {
      ucred cred;
      memcpy(&cred, CMSG_DATA(c), sizeof(cred));
      pid = cred.pid;
      uid = static_cast<int>(cred.uid);
      gid = static_cast<int>(cred.gid);
    } else if (c->cmsg_type == SCM_PIDFD && c->cmsg_len == CMSG_LEN(sizeof(int))) {
      memcpy(&pidfd, CMSG_DATA(c), sizeof(int));
    } else if (c->cmsg_type == SCM_RIGHTS) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; i++) {
        int rfd;
        memcpy(&rfd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fds.Set(nfds++, Napi::Number::New(env, rfd));
      }
    }
  }
  size_t len =
      static_cast<size_t>(n) > static_cast<size_t>(maxBytes) ? static_cast<size_t>(maxBytes) : static_cast<size_t>(n);
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", Napi::Buffer<uint8_t>::Copy(env, buf.data(), len));
  o.Set("pid", pid);
  o.Set("uid", static_cast<double>(static_cast<uint32_t>(uid)));
  o.Set("gid", static_cast<double>(static_cast<uint32_t>(gid)));
  if (uid == -1) o.Set("uid", -1);
  if (gid == -1) o.Set("gid", -1);
  o.Set("fds", fds);
  o.Set("pidfd", pidfd);
  o.Set("truncated", truncated);
  return o;
}

// passPidfd(fd) → 0 | -errno: SO_PASSPIDFD, every datagram then carries its sender's pidfd
// (SCM_PIDFD; Linux 6.5, ENOPROTOOPT before).
static Napi::Value PassPidfd(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgInt(info, 0, &fd)) return info.Env().Undefined();
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSPIDFD, &on, sizeof(on)) < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), 0);
}

// pidfdOpen(pid) → pidfd (close-on-exec) | -errno: pidfd_open(pid, 0), for any process.
static Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  int pid;
  if (!ArgInt(info, 0, &pid)) return info.Env().Undefined();
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

// struct pidfd_info up to exit_code (PIDFD_INFO_SIZE_VER0, 64 bytes: linux/pidfd.h, 6.13+).
struct PidfdInfo {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
};
static_assert(sizeof(PidfdInfo) == 64, "PIDFD_INFO_SIZE_VER0");
static constexpr uint64_t kPidfdInfoExit = 1u << 3;  // PIDFD_INFO_EXIT (6.15)

// pidfdExitStatus(pidfd) → { status } (the wait status) once the process has been reaped, by
// whoever reaped it (PIDFD_GET_INFO with PIDFD_INFO_EXIT) | null while it runs or is a zombie |
// -errno (ENOTTY/EINVAL: no PIDFD_GET_INFO in this kernel).
static Napi::Value PidfdExitStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  PidfdInfo pi{};
  pi.mask = kPidfdInfoExit;
  if (ioctl(fd, _IOWR(0xFF, 11, PidfdInfo), &pi) < 0) {
    if (errno == ESRCH) return env.Null();  // reaped, and no exit information was kept
    return Errno(env, errno);
  }
  if ((pi.mask & kPidfdInfoExit) == 0) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("status", static_cast<double>(pi.exit_code));
  return o;
}

void InitDgram(Napi::Env env, Napi::Object exports) {
  exports.Set("sendWithFds", Napi::Function::New(env, SendWithFds, "sendWithFds"));
  exports.Set("recvWithCredentials", Napi::Function::New(env, RecvWithCredentials, "recvWithCredentials"));
  exports.Set("passPidfd", Napi::Function::New(env, PassPidfd, "passPidfd"));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("pidfdExitStatus", Napi::Function::New(env, PidfdExitStatus, "pidfdExitStatus"));
}

}  // namespace mptcp_native
