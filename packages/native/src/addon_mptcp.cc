// getsockopt(SOL_MPTCP, MPTCP_FULL_INFO): the only MPTCP query whose input holds user pointers,
// so it cannot go through the generic getsockoptBuffer(). Structures are defined here because
// distribution headers older than Linux 6.5 lack them (values: include/uapi/linux/mptcp.h).
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <vector>

#include "addon.h"

namespace mptcp_native {

namespace {
constexpr int kSolMptcp = 284;
constexpr int kMptcpFullInfo = 4;

struct FullInfoHeader {
  uint32_t size_tcpinfo_kernel;
  uint32_t size_tcpinfo_user;
  uint32_t size_sfinfo_kernel;
  uint32_t size_sfinfo_user;
  uint32_t num_subflows;
  uint32_t size_arrays_user;
  uint64_t subflow_info __attribute__((aligned(8)));
  uint64_t tcp_info __attribute__((aligned(8)));
  uint8_t mptcp_info[96] __attribute__((aligned(8)));  // struct mptcp_info as of 6.10
};
static_assert(sizeof(FullInfoHeader) == 136, "mptcp_full_info layout");
}  // namespace

// mptcpFullInfo(fd, maxSubflows, sfinfoSize, tcpinfoSize)
//   → { header: Buffer, subflowInfo: Buffer, tcpInfo: Buffer } | -errno.
// header is the returned struct mptcp_full_info (sizes, num_subflows, embedded mptcp_info); the
// arrays hold min(num_subflows, maxSubflows) elements of the user sizes requested.
static Napi::Value MptcpFullInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, max, sfSize, tcpSize;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &max) || !ArgInt(info, 2, &sfSize) || !ArgInt(info, 3, &tcpSize))
    return env.Undefined();
  if (max < 0 || max > 256 || sfSize <= 0 || tcpSize <= 0 || sfSize > 4096 || tcpSize > 4096) return Errno(env, EINVAL);
  std::vector<uint8_t> sf(static_cast<size_t>(max) * sfSize + 1);
  std::vector<uint8_t> tcp(static_cast<size_t>(max) * tcpSize + 1);
  FullInfoHeader h;
  memset(&h, 0, sizeof(h));
  h.size_tcpinfo_user = static_cast<uint32_t>(tcpSize);
  h.size_sfinfo_user = static_cast<uint32_t>(sfSize);
  h.size_arrays_user = static_cast<uint32_t>(max);
  h.subflow_info = reinterpret_cast<uintptr_t>(sf.data());
  h.tcp_info = reinterpret_cast<uintptr_t>(tcp.data());
  socklen_t len = sizeof(h);
  if (getsockopt(fd, kSolMptcp, kMptcpFullInfo, &h, &len) < 0) return Errno(env, errno);
  uint32_t n = h.num_subflows < static_cast<uint32_t>(max) ? h.num_subflows : static_cast<uint32_t>(max);
  Napi::Object o = Napi::Object::New(env);
  o.Set("header", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(&h), len));
  o.Set("subflowInfo", Napi::Buffer<uint8_t>::Copy(env, sf.data(), static_cast<size_t>(n) * sfSize));
  o.Set("tcpInfo", Napi::Buffer<uint8_t>::Copy(env, tcp.data(), static_cast<size_t>(n) * tcpSize));
  return o;
}

void InitMptcp(Napi::Env env, Napi::Object exports) {
  exports.Set("mptcpFullInfo", Napi::Function::New(env, MptcpFullInfo, "mptcpFullInfo"));
}

}  // namespace mptcp_native
