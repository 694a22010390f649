// One netlink round trip: open AF_NETLINK, send one request, collect the raw replies until the
// kernel says it is done. Building and parsing messages is the caller's (TypeScript's) job.
//
// Neither variant blocks the event loop: the kernel builds a reply inside sendmsg() (and each
// further part of a dump inside recvmsg()), so netlinkRequest() reads with MSG_DONTWAIT and takes
// "nothing queued" as "the kernel ignored the request" (-ETIMEDOUT) instead of waiting for it;
// netlinkRequestAsync() runs the same exchange on a libuv pool thread and waits up to 5 s there.
#include <errno.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include <vector>

#include "addon.h"

namespace mptcp_native {

namespace {

using Messages = std::vector<std::vector<uint8_t>>;

constexpr int kAsyncTimeoutMs = 5000;

// The exchange itself, on any thread. wait: poll for up to kAsyncTimeoutMs when nothing is queued
// yet (worker thread) instead of failing at once (main thread). Returns 0 or an errno.
int Exchange(int protocol, const std::vector<uint8_t>& msg, bool wait, Messages* out) {
  if (msg.size() < sizeof(nlmsghdr)) return EINVAL;
  nlmsghdr req;
  memcpy(&req, msg.data(), sizeof(req));
  bool dump = (req.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  bool ack = (req.nlmsg_flags & NLM_F_ACK) != 0;

  UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol));
  if (!fd.valid()) return errno;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = sendto(fd.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return errno;

  std::vector<uint8_t> buf(1 << 16);
  for (bool done = false; !done;) {
    // Peek with MSG_TRUNC first so a datagram larger than the buffer is never cut.
    ssize_t need = recv(fd.get(), buf.data(), 0, MSG_PEEK | MSG_TRUNC);
    if (need < 0 && errno == EINTR) continue;
    if (need < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait) return ETIMEDOUT;
      pollfd p{fd.get(), POLLIN, 0};
      int r = poll(&p, 1, kAsyncTimeoutMs);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return errno;
      if (r == 0) return ETIMEDOUT;
      continue;
    }
    if (need < 0) return errno;
    if (static_cast<size_t>(need) > buf.size()) buf.resize(need);
    ssize_t n = recv(fd.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    size_t len = static_cast<size_t>(n);
    bool replied = false;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != req.nlmsg_seq) continue;  // not ours (multicast or stale)
      auto* p = reinterpret_cast<uint8_t*>(h);
      out->emplace_back(p, p + h->nlmsg_len);
      replied = true;
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) done = true;
    }
    if (replied && !dump && !ack) done = true;
  }
  return 0;
}

Napi::Value ToJs(Napi::Env env, int err, const Messages& msgs) {
  if (err != 0) return Errno(env, err);
  Napi::Array out = Napi::Array::New(env, msgs.size());
  for (uint32_t i = 0; i < msgs.size(); i++)
    out.Set(i, Napi::Buffer<uint8_t>::Copy(env, msgs[i].data(), msgs[i].size()));
  return out;
}

bool Args(const Napi::CallbackInfo& info, int* protocol, std::vector<uint8_t>* msg) {
  if (!ArgInt(info, 0, protocol)) return false;
  if (info.Length() < 2 || !info[1].IsBuffer()) {
    Napi::TypeError::New(info.Env(), "argument 1 must be a Buffer").ThrowAsJavaScriptException();
    return false;
  }
  auto b = info[1].As<Napi::Buffer<uint8_t>>();
  msg->assign(b.Data(), b.Data() + b.Length());
  return true;
}

class NetlinkWorker : public Napi::AsyncWorker {
 public:
  NetlinkWorker(Napi::Env env, int protocol, std::vector<uint8_t> msg)
      : Napi::AsyncWorker(env, "MptcpNetlink"),
        protocol_(protocol),
        msg_(std::move(msg)),
        deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override { err_ = Exchange(protocol_, msg_, true, &replies_); }
  void OnOK() override {
    if (!CanRunJs(Env())) return;  // a terminating worker env: nobody awaits the promise
    Napi::HandleScope scope(Env());
    deferred_.Resolve(ToJs(Env(), err_, replies_));
  }

 private:
  int protocol_;
  std::vector<uint8_t> msg_;
  Napi::Promise::Deferred deferred_;
  Messages replies_;
  int err_ = 0;
};

}  // namespace

// netlinkRequest(protocol, message) → Buffer[] (every message received, terminator included) | -errno.
// Stops after NLMSG_DONE or NLMSG_ERROR; for a request without NLM_F_DUMP and without NLM_F_ACK,
// after the first datagram that carries a reply to our sequence number. Never waits: -ETIMEDOUT
// when the kernel queued no reply (it ignored the request).
static Napi::Value NetlinkRequest(const Napi::CallbackInfo& info) {
  int protocol;
  std::vector<uint8_t> msg;
  if (!Args(info, &protocol, &msg)) return info.Env().Undefined();
  Messages replies;
  int err = Exchange(protocol, msg, false, &replies);
  return ToJs(info.Env(), err, replies);
}

// netlinkRequestAsync(protocol, message) → Promise<Buffer[] | -errno>, on a pool thread (waits up
// to 5 s for a reply there, never on the event loop).
static Napi::Value NetlinkRequestAsync(const Napi::CallbackInfo& info) {
  int protocol;
  std::vector<uint8_t> msg;
  if (!Args(info, &protocol, &msg)) return info.Env().Undefined();
  auto* worker = new NetlinkWorker(info.Env(), protocol, std::move(msg));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// netlinkSubscribe(protocol, groups: number[]) → fd | -errno: a non-blocking, close-on-exec
// AF_NETLINK socket of `protocol`, bound with nl_pid 0 (the kernel assigns the port id, which
// multicast delivery needs), member of each group (NETLINK_ADD_MEMBERSHIP). The caller owns the fd.
static Napi::Value NetlinkSubscribe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int protocol;
  if (!ArgInt(info, 0, &protocol)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsArray()) {
    Napi::TypeError::New(env, "argument 1 must be an array of group numbers").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array arr = info[1].As<Napi::Array>();
  std::vector<int> groups;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 1 && d <= 0x7fffffff) || static_cast<double>(static_cast<int>(d)) != d) {
      Napi::TypeError::New(env, "groups must be integers ≥ 1").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    groups.push_back(static_cast<int>(d));
  }
  UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
  if (!fd.valid()) return Errno(env, errno);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;  // nl_pid 0: the kernel picks a unique port id; nl_groups 0 (legacy mask unused)
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)) < 0) return Errno(env, errno);
  for (int g : groups) {
    if (setsockopt(fd.get(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0) return Errno(env, errno);
  }
  return Napi::Number::New(env, fd.release());
}

void InitNetlink(Napi::Env env, Napi::Object exports) {
  exports.Set("netlinkSubscribe", Napi::Function::New(env, NetlinkSubscribe, "netlinkSubscribe"));
  exports.Set("netlinkRequest", Napi::Function::New(env, NetlinkRequest, "netlinkRequest"));
  exports.Set("netlinkRequestAsync", Napi::Function::New(env, NetlinkRequestAsync, "netlinkRequestAsync"));
}

}  // namespace mptcp_native
