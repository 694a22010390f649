// sendmsg(2) with SCM_RIGHTS and recvmsg(2) with SCM_CREDENTIALS + SCM_RIGHTS on AF_UNIX datagram
// sockets: what the sd_notify protocol needs on both ends (a service storing fds with FDSTORE=1;
// the manager's notify socket checking the sender's PID against NotifyAccess=).
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <vector>

#include "addon.h"

namespace mptcp_native {

// The most fds one message may carry (the kernel's SCM_MAX_FD is 253).
static constexpr size_t kMaxFds = 253;

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
  std::vector<char> control(CMSG_SPACE(sizeof(ucred)) +
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
  int pid = -1, uid = -1, gid = -1;
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
  o.Set("truncated", truncated);
  return o;
}

void InitDgram(Napi::Env env, Napi::Object exports) {
  exports.Set("sendWithFds", Napi::Function::New(env, SendWithFds, "sendWithFds"));
  exports.Set("recvWithCredentials", Napi::Function::New(env, RecvWithCredentials, "recvWithCredentials"));
}

}  // namespace mptcp_native
