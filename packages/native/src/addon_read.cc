// The read path for bulk MPTCP receive (see read-path.ts and README "Bulk receive").
#include "addon.h"

namespace mptcp_native {

void InitRead(Napi::Env env, Napi::Object exports) {
  (void)env;
  (void)exports;
}

}  // namespace mptcp_native
