// Shared declarations of the @mptcp/native addon. Every exported function is syscall-shaped:
// it takes numbers, strings, Buffers and plain address objects, and returns its result or a
// negative errno number (-errno: the one convention of every binding; a spawn failure is the
// object { errno: -errno, syscall } because it must also name the step that failed). A malformed
// argument is a programming error and throws a TypeError. Policy (fallback, option order,
// messages) lives in TypeScript.
#pragma once

#include <napi.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <functional>

namespace mptcp_native {

// A negative errno as a JS number: the TypeScript side maps it to an errno name and a typed error.
inline Napi::Value Errno(Napi::Env env, int err) { return Napi::Number::New(env, -err); }

// Owns one file descriptor: closed on every path out of a scope unless release()d.
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  // Gives up ownership (the caller now closes it).
  int release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Linux releases the fd even when close() reports EINTR: never retried.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// After a callback from the addon into JS (napi_make_callback / napi_call_function outside any JS
// call: poll, accept, relay callbacks) returned `status`: a thrown exception goes to
// 'uncaughtException' (process._fatalException) as any other callback's would. An env that is
// terminating (a worker's process.exit() or its uncaught exception, worker.terminate()) leaves a
// termination "exception" that must be dropped: wrapping it in a Napi::Error, or throwing anything,
// aborts the process (FATAL ERROR: Error::Error napi_define_properties). Returns whether JS may
// still run in this env (callers stop calling into it otherwise).
bool AfterCallback(napi_env env, napi_status status);
// Whether JS can run in this env (false once a worker env is terminating or tearing down).
bool CanRunJs(napi_env env);

// Argument helpers: they throw a TypeError (a programming error, not a syscall failure).
bool ArgInt(const Napi::CallbackInfo& info, size_t i, int* out);
// A user or group id: an integer 0…4294967294 (4294967295 is (uid_t)-1, "no change", which the
// kernel would silently ignore), or -1 for "not given". Anything else throws a TypeError.
bool IdValue(Napi::Env env, Napi::Value v, const char* what, bool allowNone, bool* given, uint32_t* out);

// Runs fn on a short-lived thread whose umask is `mask` while the rest of the process keeps its
// own: the thread unshares its fs_struct (CLONE_FS) first, so files created by other threads at
// the same time are not affected. Returns fn's result, or -errno when the thread cannot be set up.
int WithThreadUmask(mode_t mask, const std::function<int()>& fn);

// JS address object <-> struct sockaddr. Returns false (and throws a TypeError) on a malformed object.
bool SockaddrFromJs(Napi::Env env, Napi::Value v, sockaddr_storage* ss, socklen_t* len);
Napi::Value SockaddrToJs(Napi::Env env, const sockaddr_storage* ss, socklen_t len);

void InitSocket(Napi::Env env, Napi::Object exports);
void InitPoll(Napi::Env env, Napi::Object exports);
void InitNetlink(Napi::Env env, Napi::Object exports);
void InitMptcp(Napi::Env env, Napi::Object exports);
void InitSpawn(Napi::Env env, Napi::Object exports);
void InitAccept(Napi::Env env, Napi::Object exports);
void InitDgram(Napi::Env env, Napi::Object exports);
void InitSplice(Napi::Env env, Napi::Object exports);
void InitFdStore(Napi::Env env, Napi::Object exports);
void InitStartup(Napi::Env env, Napi::Object exports);

}  // namespace mptcp_native
