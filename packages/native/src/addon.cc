// Entry point of the @mptcp/native addon: registers the small syscall-shaped functions.
#include "addon.h"

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <sys/stat.h>

#include <pthread.h>

#include <cmath>

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

bool IdValue(Napi::Env env, Napi::Value v, const char* what, bool allowNone, bool* given, uint32_t* out) {
  // Read as a double: Int32Value() would turn 2147483648 into a negative number.
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (allowNone && d == -1) {
    *given = false;
    return true;
  }
  if (!(d >= 0 && d <= 4294967294.0) || std::floor(d) != d) {
    Napi::TypeError::New(
        env, std::string(what) + " must be an integer 0…4294967294" + (allowNone ? " (or -1: unchanged)" : ""))
        .ThrowAsJavaScriptException();
    return false;
  }
  *given = true;
  *out = static_cast<uint32_t>(d);
  return true;
}

bool CanRunJs(napi_env env) {
  // Node-API functions that may run JS start with a check of the env: with no exception pending, a
  // failure (napi_pending_exception, or napi_cannot_run_js) of one that runs none here means
  // "terminating" (node-addon-api's NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS uses the same test).
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || pending) return true;
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok) return false;
  return napi_define_properties(env, obj, 0, nullptr) == napi_ok;
}

bool AfterCallback(napi_env env, napi_status status) {
  if (status == napi_ok) return true;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok) return false;
  if (!pending) return CanRunJs(env);
  napi_value exception;
  // Raw Node-API only: no Napi::Error (its constructor wraps a non-object with JS calls, fatal here).
  if (napi_get_and_clear_last_exception(env, &exception) != napi_ok) return false;
  if (!CanRunJs(env)) return false;  // the termination itself: nothing to report, nobody to report to
  napi_fatal_exception(env, exception);
  return CanRunJs(env);
}

namespace {
struct UmaskJob {
  mode_t mask;
  const std::function<int()>* fn;
  int result;
};

void* UmaskThread(void* arg) {
  auto* job = static_cast<UmaskJob*>(arg);
  if (unshare(CLONE_FS) < 0) {
    job->result = -errno;
    return nullptr;
  }
  umask(job->mask);
  job->result = (*job->fn)();
  return nullptr;
}
}  // namespace

int WithThreadUmask(mode_t mask, const std::function<int()>& fn) {
  // pthread_create, not std::thread: the addon is built without C++ exceptions, and a failed
  // thread creation must be an errno, not an abort.
  UmaskJob job{mask, &fn, 0};
  pthread_t t;
  int r = pthread_create(&t, nullptr, UmaskThread, &job);
  if (r != 0) return -r;
  pthread_join(t, nullptr);
  return job.result;
}

// The addon stays mapped until the process exits (RTLD_NODELETE): Node dlclose()s an addon when a
// worker thread that loaded it ends, and libuv runs that worker's close callbacks (uv_close() of the
// addon's poll handles, from their finalizers at the env's teardown) after that; they would jump
// into unmapped code. Pinned once, from the first Init.
static void PinAddon() {
  // A function-local static is initialized once, thread-safely (workers may load the addon at once).
  static const bool pinned = [] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&PinAddon), &info) == 0 || info.dli_fname == nullptr) return false;
    return dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;  // never closed
  }();
  (void)pinned;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  PinAddon();
  InitSocket(env, exports);
  InitPoll(env, exports);
  InitNetlink(env, exports);
  InitMptcp(env, exports);
  InitSpawn(env, exports);
  InitAccept(env, exports);
  InitDgram(env, exports);
  InitSplice(env, exports);
  InitFdStore(env, exports);
  InitStartup(env, exports);
  return exports;
}

}  // namespace mptcp_native

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return mptcp_native::Init(env, exports); }

NODE_API_MODULE(mptcp_native, InitModule)
