// Entry point of the @mptcp/native addon: registers the small syscall-shaped functions.
#include "addon.h"

namespace mptcp_native {

bool ArgInt(const Napi::CallbackInfo& info, size_t i, int* out) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a number")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Number>().Int32Value();
  return true;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitSocket(env, exports);
  InitPoll(env, exports);
  InitNetlink(env, exports);
  InitMptcp(env, exports);
  InitSpawn(env, exports);
  return exports;
}

}  // namespace mptcp_native

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return mptcp_native::Init(env, exports); }

NODE_API_MODULE(mptcp_native, InitModule)
