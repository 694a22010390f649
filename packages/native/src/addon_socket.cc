// socket(2), bind(2), listen(2), connect(2), accept4(2), close(2), get/setsockopt(2), fcntl(2):
// one JS function per syscall, returning the result or -errno.
#include <cstdint>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "addon.h"

namespace mptcp_native {

// socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol) → fd | -errno.
// Every fd the addon creates is close-on-exec and non-blocking; callers clear either explicitly.
static Napi::Value Socket(const Napi::CallbackInfo& info) {
  int domain, type, protocol;
  if (!ArgInt(info, 0, &domain) || !ArgInt(info, 1, &type) || !ArgInt(info, 2, &protocol))
    return info.Env().Undefined();
  int fd = socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
  if (fd < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), fd);
}

// bind(fd, address[, mode]) → 0 | -errno. With a mode (AF_UNIX path sockets) the node is created
// with exactly that mode: bind() runs on a thread with its own umask (~mode), so there is no
// chmod-after-bind window, no chmod that could follow a swapped-in symlink, and no process-wide
// umask() that would race files other threads create meanwhile.
static Napi::Value Bind(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgInt(info, 0, &fd)) return info.Env().Undefined();
  sockaddr_storage ss;
  socklen_t len;
  if (!SockaddrFromJs(info.Env(), info[1], &ss, &len)) return info.Env().Undefined();
  auto doBind = [&]() -> int { return bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 ? -errno : 0; };
  int r;
  if (info.Length() > 2 && info[2].IsNumber()) {
    mode_t mode = static_cast<mode_t>(info[2].As<Napi::Number>().Uint32Value()) & 07777;
    r = WithThreadUmask(~mode & 0777, doBind);
  } else {
    r = doBind();
  }
  return Napi::Number::New(info.Env(), r);
}

// mknodat(dirfd | -100 (AT_FDCWD), path, mode, dev) → 0 | -errno. mode carries the type (S_IFIFO,
// S_IFREG, S_IFSOCK, S_IFCHR/S_IFBLK with dev) and the permission bits, applied exactly (a
// per-thread umask of 0, as for bind). A FIFO: mknodat(-100, path, S_IFIFO | 0o600, 0).
static Napi::Value Mknodat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int dirfd, mode, dev;
  if (!ArgInt(info, 0, &dirfd)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsString()) {
    Napi::TypeError::New(env, "argument 1 must be a path string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[1].As<Napi::String>().Utf8Value();
  if (path.empty() || path.find('\0') != std::string::npos) {
    Napi::TypeError::New(env, "path must be non-empty and must not contain NUL bytes").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!ArgInt(info, 2, &mode) || !ArgInt(info, 3, &dev)) return env.Undefined();
  int r = WithThreadUmask(0, [&]() -> int {
    return mknodat(dirfd, path.c_str(), static_cast<mode_t>(mode), static_cast<dev_t>(static_cast<unsigned>(dev))) < 0
               ? -errno
               : 0;
  });
  return Napi::Number::New(env, r);
}

static Napi::Value Listen(const Napi::CallbackInfo& info) {
  int fd, backlog;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &backlog)) return info.Env().Undefined();
  if (listen(fd, backlog) < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), 0);
}

// shutdown(fd, how) → 0 | -errno (SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2).
static Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  int fd, how;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &how)) return info.Env().Undefined();
  if (shutdown(fd, how) < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), 0);
}

// connect(fd, address) → 0 | -errno; on a non-blocking socket -EINPROGRESS means "watch for writable".
static Napi::Value Connect(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgInt(info, 0, &fd)) return info.Env().Undefined();
  sockaddr_storage ss;
  socklen_t len;
  if (!SockaddrFromJs(info.Env(), info[1], &ss, &len)) return info.Env().Undefined();
  int r;
  do {
    r = connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), 0);
}

// accept4(fd, SOCK_CLOEXEC | SOCK_NONBLOCK) → { fd, local, remote } | null (EAGAIN) | -errno.
static Napi::Value Accept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  sockaddr_storage remote;
  socklen_t rlen = sizeof(remote);
  int cfd;
  do {
    cfd = accept4(fd, reinterpret_cast<sockaddr*>(&remote), &rlen, SOCK_CLOEXEC | SOCK_NONBLOCK);
  } while (cfd < 0 && errno == EINTR);
  if (cfd < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return env.Null();
    return Errno(env, errno);
  }
  sockaddr_storage local;
  socklen_t llen = sizeof(local);
  if (getsockname(cfd, reinterpret_cast<sockaddr*>(&local), &llen) < 0) {
    llen = 0;
    local.ss_family = AF_UNSPEC;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", cfd);
  o.Set("local", SockaddrToJs(env, &local, llen));
  o.Set("remote", SockaddrToJs(env, &remote, rlen));
  return o;
}

static Napi::Value Close(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgInt(info, 0, &fd)) return info.Env().Undefined();
  // Linux always releases the fd, even when close() reports EINTR: never retry.
  if (close(fd) < 0 && errno != EINTR) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), 0);
}

template <int (*F)(int, sockaddr*, socklen_t*)>
static Napi::Value Name(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgInt(info, 0, &fd)) return info.Env().Undefined();
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (F(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return Errno(info.Env(), errno);
  return SockaddrToJs(info.Env(), &ss, len);
}

// getsockopt(fd, level, name) for an int option → { value } | -errno.
static Napi::Value GetSockOptInt(const Napi::CallbackInfo& info) {
  int fd, level, name;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &level) || !ArgInt(info, 2, &name)) return info.Env().Undefined();
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, level, name, &value, &len) < 0) return Errno(info.Env(), errno);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("value", value);
  return o;
}

// getsockopt(fd, level, name, buf) with buf both input and output (MPTCP_SUBFLOW_ADDRS and
// MPTCP_TCPINFO read a header from it) → a new Buffer of the returned optlen | -errno.
static Napi::Value GetSockOptBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, level, name;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &level) || !ArgInt(info, 2, &name)) return env.Undefined();
  if (info.Length() < 4 || !info[3].IsBuffer()) {
    Napi::TypeError::New(env, "argument 3 must be a Buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto in = info[3].As<Napi::Buffer<uint8_t>>();
  std::vector<uint8_t> buf(in.Data(), in.Data() + in.Length());
  socklen_t len = static_cast<socklen_t>(buf.size());
  if (getsockopt(fd, level, name, buf.data(), &len) < 0) return Errno(env, errno);
  if (len > buf.size()) len = static_cast<socklen_t>(buf.size());
  return Napi::Buffer<uint8_t>::Copy(env, buf.data(), len);
}

static Napi::Value SetSockOptInt(const Napi::CallbackInfo& info) {
  int fd, level, name, value;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &level) || !ArgInt(info, 2, &name) || !ArgInt(info, 3, &value))
    return info.Env().Undefined();
  if (setsockopt(fd, level, name, &value, sizeof(value)) < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), 0);
}

// setsockopt with raw bytes (SO_BINDTODEVICE, TCP_CONGESTION take strings).
static Napi::Value SetSockOptBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, level, name;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &level) || !ArgInt(info, 2, &name)) return env.Undefined();
  if (info.Length() < 4 || !info[3].IsBuffer()) {
    Napi::TypeError::New(env, "argument 3 must be a Buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto b = info[3].As<Napi::Buffer<uint8_t>>();
  if (setsockopt(fd, level, name, b.Data(), static_cast<socklen_t>(b.Length())) < 0) return Errno(env, errno);
  return Napi::Number::New(env, 0);
}

// fcntl(F_GETFL/F_SETFL, O_NONBLOCK) and fcntl(F_GETFD/F_SETFD, FD_CLOEXEC).
static Napi::Value SetFlag(const Napi::CallbackInfo& info, int get, int set, int flag) {
  int fd;
  if (!ArgInt(info, 0, &fd)) return info.Env().Undefined();
  bool on = info.Length() > 1 && info[1].ToBoolean().Value();
  int flags = fcntl(fd, get);
  if (flags < 0) return Errno(info.Env(), errno);
  int next = on ? (flags | flag) : (flags & ~flag);
  if (next != flags && fcntl(fd, set, next) < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), 0);
}
static Napi::Value SetNonBlocking(const Napi::CallbackInfo& info) {
  return SetFlag(info, F_GETFL, F_SETFL, O_NONBLOCK);
}
static Napi::Value SetCloexec(const Napi::CallbackInfo& info) { return SetFlag(info, F_GETFD, F_SETFD, FD_CLOEXEC); }

// fd flags as { nonBlocking, cloexec } | -errno (for tests and for validating received fds).
static Napi::Value FdFlags(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgInt(info, 0, &fd)) return info.Env().Undefined();
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return Errno(info.Env(), errno);
  int fdfl = fcntl(fd, F_GETFD);
  if (fdfl < 0) return Errno(info.Env(), errno);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("nonBlocking", (fl & O_NONBLOCK) != 0);
  o.Set("cloexec", (fdfl & FD_CLOEXEC) != 0);
  return o;
}

// dup3(oldfd, newfd, O_CLOEXEC) → newfd | -errno: replaces the socket behind an fd number atomically.
static Napi::Value Dup3(const Napi::CallbackInfo& info) {
  int oldfd, newfd;
  if (!ArgInt(info, 0, &oldfd) || !ArgInt(info, 1, &newfd)) return info.Env().Undefined();
  int r;
  do {
    r = dup3(oldfd, newfd, O_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), r);
}

// send(fd, buffer, MSG_NOSIGNAL) → bytes sent | -errno (a connected datagram socket: one datagram).
static Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgInt(info, 0, &fd)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsBuffer()) {
    Napi::TypeError::New(env, "argument 1 must be a Buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto b = info[1].As<Napi::Buffer<uint8_t>>();
  ssize_t n;
  do {
    n = send(fd, b.Data(), b.Length(), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Errno(env, errno);
  return Napi::Number::New(env, static_cast<double>(n));
}

// fcntl(fd, F_DUPFD_CLOEXEC, 0) → new fd | -errno: a second number for the same socket.
static Napi::Value Dup(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgInt(info, 0, &fd)) return info.Env().Undefined();
  int r = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (r < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), r);
}

// SO_PEERCRED → { pid, uid, gid } | -errno.
static Napi::Value PeerCredentials(const Napi::CallbackInfo& info) {
  int fd;
  if (!ArgInt(info, 0, &fd)) return info.Env().Undefined();
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return Errno(info.Env(), errno);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("pid", cred.pid);
  o.Set("uid", cred.uid);
  o.Set("gid", cred.gid);
  return o;
}

// Values from the system headers for the portable socket options (the MPTCP ones, which old
// headers lack, come from @mptcp/constants on the TypeScript side).
static Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
#define C(name) c.Set(#name, static_cast<double>(name))
  C(AF_UNIX);
  C(AF_INET);
  C(AF_INET6);
  C(AF_NETLINK);
  C(AF_VSOCK);
  C(SOCK_STREAM);
  C(SOCK_DGRAM);
  C(SOCK_SEQPACKET);
  C(SOCK_RAW);
  C(SOL_SOCKET);
  C(IPPROTO_IP);
  C(IPPROTO_IPV6);
  C(IPPROTO_TCP);
  C(SO_TYPE);
  C(SO_ERROR);
  C(SO_REUSEADDR);
  C(SO_REUSEPORT);
  C(SO_KEEPALIVE);
  C(SO_BROADCAST);
  C(SO_PASSCRED);
  C(SO_PASSSEC);
  C(SO_PRIORITY);
  C(SO_RCVBUF);
  C(SO_SNDBUF);
  C(SO_RCVBUFFORCE);
  C(SO_SNDBUFFORCE);
  C(SO_MARK);
  C(SO_BINDTODEVICE);
  C(SO_ACCEPTCONN);
  C(SO_DOMAIN);
  C(SO_PROTOCOL);
  C(IP_TOS);
  C(IP_TTL);
  C(IP_FREEBIND);
  C(IP_TRANSPARENT);
  C(IP_PKTINFO);
  C(IPV6_V6ONLY);
  C(IPV6_UNICAST_HOPS);
  C(IPV6_RECVPKTINFO);
  C(IPV6_TRANSPARENT);
  C(IPV6_FREEBIND);
  C(TCP_NODELAY);
  C(TCP_KEEPIDLE);
  C(TCP_KEEPINTVL);
  C(TCP_KEEPCNT);
  C(TCP_DEFER_ACCEPT);
  C(TCP_CONGESTION);
  C(TCP_INFO);
  C(SOMAXCONN);
  C(EINPROGRESS);
  C(EAGAIN);
  C(AT_FDCWD);
  C(S_IFIFO);
  C(S_IFREG);
  C(S_IFSOCK);
  C(S_IFCHR);
  C(S_IFBLK);
#undef C
  return c;
}

// A spec's Int32Array field `name` (level, optname, value triples), or nullopt-like false after a TypeError.
static bool OptionTriples(Napi::Env env, Napi::Object spec, const char* name, std::vector<int>* out) {
  Napi::Value v = spec.Get(name);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      v.As<Napi::Int32Array>().ElementLength() % 3 != 0) {
    Napi::TypeError::New(env, std::string("spec.") + name + " must be an Int32Array of (level, optname, value) triples")
        .ThrowAsJavaScriptException();
    return false;
  }
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  out->assign(a.Data(), a.Data() + a.ElementLength());
  return true;
}

static int SpecInt(Napi::Env env, Napi::Object spec, const char* name, bool* ok) {
  Napi::Value v = spec.Get(name);
  if (!v.IsNumber()) {
    Napi::TypeError::New(env, std::string("spec.") + name + " must be a number").ThrowAsJavaScriptException();
    *ok = false;
    return 0;
  }
  return v.As<Napi::Number>().Int32Value();
}

// openStreamListeners([{ af, protocol, address, backlog, pre, post }, …]) → Int32Array: for each spec
// in order, socket(af, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol) → the `pre` int options →
// bind(address) → listen(backlog) → the `post` int options, and the listening fd. At the first step
// that fails the fd is closed, its slot gets -errno and the specs after it are not attempted (slots
// INT32_MIN): the caller opens that one and the rest one by one, in order, so the outcome is the one
// of opening them one at a time. No policy here (MPTCP fallback, warnings): a daemon starting with
// thousands of listeners makes one call instead of ~8 per socket.
static Napi::Value OpenStreamListeners(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    Napi::TypeError::New(env, "argument 0 must be an array of specs").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array specs = info[0].As<Napi::Array>();
  uint32_t n = specs.Length();
  Napi::Int32Array out = Napi::Int32Array::New(env, n);
  for (uint32_t i = 0; i < n; i++) out[i] = INT32_MIN;
  std::vector<int> pre, post;
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = specs[i];
    if (!v.IsObject()) {
      Napi::TypeError::New(env, "each spec must be an object").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object spec = v.As<Napi::Object>();
    bool ok = true;
    int af = SpecInt(env, spec, "af", &ok);
    int protocol = ok ? SpecInt(env, spec, "protocol", &ok) : 0;
    int backlog = ok ? SpecInt(env, spec, "backlog", &ok) : 0;
    if (!ok || !OptionTriples(env, spec, "pre", &pre) || !OptionTriples(env, spec, "post", &post))
      return env.Undefined();
    sockaddr_storage ss;
    socklen_t len;
    if (!SockaddrFromJs(env, spec.Get("address"), &ss, &len)) return env.Undefined();
    int fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
    int r = fd < 0 ? -errno : 0;
    auto apply = [&](const std::vector<int>& opts) {
      for (size_t k = 0; r == 0 && k + 2 < opts.size(); k += 3) {
        int value = opts[k + 2];
        if (setsockopt(fd, opts[k], opts[k + 1], &value, sizeof value) < 0) r = -errno;
      }
    };
    apply(pre);
    if (r == 0 && bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) r = -errno;
    if (r == 0 && listen(fd, backlog) < 0) r = -errno;
    apply(post);
    if (r < 0) {
      if (fd >= 0) close(fd);
      out[i] = r;
      break;
    }
    out[i] = fd;
  }
  return out;
}

void InitSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("openStreamListeners", Napi::Function::New(env, OpenStreamListeners, "openStreamListeners"));
  exports.Set("socket", Napi::Function::New(env, Socket, "socket"));
  exports.Set("bind", Napi::Function::New(env, Bind, "bind"));
  exports.Set("listen", Napi::Function::New(env, Listen, "listen"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  exports.Set("mknodat", Napi::Function::New(env, Mknodat, "mknodat"));
  exports.Set("connect", Napi::Function::New(env, Connect, "connect"));
  exports.Set("accept", Napi::Function::New(env, Accept, "accept"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("getsockname", Napi::Function::New(env, Name<getsockname>, "getsockname"));
  exports.Set("getpeername", Napi::Function::New(env, Name<getpeername>, "getpeername"));
  exports.Set("getsockoptInt", Napi::Function::New(env, GetSockOptInt, "getsockoptInt"));
  exports.Set("getsockoptBuffer", Napi::Function::New(env, GetSockOptBuffer, "getsockoptBuffer"));
  exports.Set("setsockoptInt", Napi::Function::New(env, SetSockOptInt, "setsockoptInt"));
  exports.Set("setsockoptBuffer", Napi::Function::New(env, SetSockOptBuffer, "setsockoptBuffer"));
  exports.Set("setNonBlocking", Napi::Function::New(env, SetNonBlocking, "setNonBlocking"));
  exports.Set("setCloexec", Napi::Function::New(env, SetCloexec, "setCloexec"));
  exports.Set("fdFlags", Napi::Function::New(env, FdFlags, "fdFlags"));
  exports.Set("dup", Napi::Function::New(env, Dup, "dup"));
  exports.Set("send", Napi::Function::New(env, Send, "send"));
  exports.Set("dup3", Napi::Function::New(env, Dup3, "dup3"));
  exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials, "peerCredentials"));
  exports.Set("constants", Constants(env));
}

}  // namespace mptcp_native
