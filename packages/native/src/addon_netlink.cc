// One synchronous netlink round trip: open AF_NETLINK, send one request, collect the raw replies
// until the kernel says it is done. Building and parsing messages is the caller's (TypeScript's) job.
#include <errno.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <vector>

#include "addon.h"

namespace mptcp_native {

// netlinkRequest(protocol, message) → Buffer[] (every message received, terminator included) | -errno.
// Stops after NLMSG_DONE or NLMSG_ERROR; for a request without NLM_F_DUMP and without NLM_F_ACK,
// after the first datagram that carries a reply to our sequence number.
static Napi::Value NetlinkRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int protocol;
  if (!ArgInt(info, 0, &protocol)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsBuffer()) {
    Napi::TypeError::New(env, "argument 1 must be a Buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto msg = info[1].As<Napi::Buffer<uint8_t>>();
  if (msg.Length() < sizeof(nlmsghdr)) return Errno(env, EINVAL);
  nlmsghdr req;
  memcpy(&req, msg.Data(), sizeof(req));
  bool dump = (req.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  bool ack = (req.nlmsg_flags & NLM_F_ACK) != 0;

  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) return Errno(env, errno);
  // The kernel answers at once; the timeout only guards against a request it silently ignores.
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = sendto(fd, msg.Data(), msg.Length(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    int err = errno;
    close(fd);
    return Errno(env, err);
  }

  Napi::Array out = Napi::Array::New(env);
  uint32_t count = 0;
  std::vector<uint8_t> buf(1 << 16);
  bool done = false;
  while (!done) {
    // Peek with MSG_TRUNC first so a datagram larger than the buffer is never cut.
    ssize_t need = recv(fd, buf.data(), 0, MSG_PEEK | MSG_TRUNC);
    if (need < 0 && errno == EINTR) continue;
    if (need < 0) {
      int err = errno;
      close(fd);
      return Errno(env, err);
    }
    if (static_cast<size_t>(need) > buf.size()) buf.resize(need);
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return Errno(env, err);
    }
    size_t len = static_cast<size_t>(n);
    bool replied = false;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != req.nlmsg_seq) continue;  // not ours (multicast or stale)
      out.Set(count++, Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(h), h->nlmsg_len));
      replied = true;
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) done = true;
    }
    if (replied && !dump && !ack) done = true;
  }
  close(fd);
  return out;
}

void InitNetlink(Napi::Env env, Napi::Object exports) {
  exports.Set("netlinkRequest", Napi::Function::New(env, NetlinkRequest, "netlinkRequest"));
}

}  // namespace mptcp_native
