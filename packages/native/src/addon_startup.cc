// Start-up and idle-memory helpers for a daemon that opens thousands of listening sockets.
//
// reserveFds(count): the kernel's fd table starts with 64 slots and doubles when a new fd does not
// fit. In a process with more than one thread (every Node process) each doubling waits for an RCU
// grace period (expand_fdtable(): synchronize_rcu() when files->count > 1): measured here ~8-15 ms
// of wall time each, without CPU. 1,000 listeners take 5 doublings (64 → 2,048), ~30-45 ms. This
// grows the table once, to hold `count` fds, on a short-lived thread: fcntl(F_DUPFD_CLOEXEC) of a
// /dev/null fd to the lowest free fd >= count - 1, closed at once. F_DUPFD never replaces an open
// fd (dup2 would). Meanwhile the caller's thread keeps opening fds below the current table size;
// one that needs the bigger table waits for this resize instead of starting another.
//
// setV8Flags(flags): v8::V8::SetFlagsFromString(), what node:v8's setFlagsFromString() calls, for a
// process that should not load node:v8: that module loads node:stream and the other stream modules
// at once (for heap snapshots), ~1.4 MB of an idle daemon's RSS. The function is looked up in the
// running node binary with dlsym() by its C++ name, not linked: an addon must not fail to load on a
// Node build that does not export it; there the call returns false and the caller uses node:v8.
//
// mallocTrim(): glibc's malloc_trim(0): returns the free pages of malloc's heaps to the kernel (a
// start-up burst of short-lived native allocations leaves them resident otherwise).
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/resource.h>

#include <string>
#include <vector>

#include "addon.h"

namespace mptcp_native {

namespace {

void* GrowFdTable(void* arg) {
  int want = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  UniqueFd any(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!any.valid()) return nullptr;
  UniqueFd high(fcntl(any.get(), F_DUPFD_CLOEXEC, want - 1));
  return nullptr;
}

// reserveFds(count) → true when a thread was started to grow the table, false when nothing is to
// be done (count within the table's first 64 slots, above RLIMIT_NOFILE) or the thread could not
// be started (then the table grows as fds are opened, as without this call).
Napi::Value ReserveFds(const Napi::CallbackInfo& info) {
  int count;
  if (!ArgInt(info, 0, &count)) return info.Env().Undefined();
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && static_cast<rlim_t>(count) > rl.rlim_cur)
    count = static_cast<int>(rl.rlim_cur);
  if (count <= 64) return Napi::Boolean::New(info.Env(), false);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  // The thread makes three syscalls: the smallest stack glibc allows.
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t t;
  int r = pthread_create(&t, &attr, GrowFdTable, reinterpret_cast<void*>(static_cast<intptr_t>(count)));
  pthread_attr_destroy(&attr);
  return Napi::Boolean::New(info.Env(), r == 0);
}

Napi::Value SetV8Flags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "setV8Flags(flags: string)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // v8::V8::SetFlagsFromString(const char*, size_t), stable since V8 3.x.
  using SetFlags = void (*)(const char*, size_t);
  static SetFlags set = reinterpret_cast<SetFlags>(dlsym(RTLD_DEFAULT, "_ZN2v82V818SetFlagsFromStringEPKcm"));
  if (set == nullptr) return Napi::Boolean::New(env, false);
  std::string flags = info[0].As<Napi::String>().Utf8Value();
  set(flags.c_str(), flags.size());
  return Napi::Boolean::New(env, true);
}

Napi::Value MallocTrim(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0); }

// readSmallFiles(paths: string[], max) → { data: Buffer, lengths: Int32Array }: each file opened
// O_RDONLY|O_NONBLOCK|O_NOCTTY|O_CLOEXEC and read to its end, one after the other into one buffer.
// lengths[i] > 0: its bytes follow the previous ones in data; 0: empty; -errno: open/read failed
// (-EFBIG: more than max bytes; -EAGAIN: a FIFO swapped in). A daemon's start-up reads thousands
// of small unit files: one call instead of three Node fs calls per file.
Napi::Value ReadSmallFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int max;
  if (info.Length() < 1 || !info[0].IsArray() || !ArgInt(info, 1, &max) || max < 0) {
    if (!env.IsExceptionPending())
      Napi::TypeError::New(env, "readSmallFiles(paths[], max)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array paths = info[0].As<Napi::Array>();
  uint32_t n = paths.Length();
  std::vector<std::string> names(n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = paths.Get(i);
    if (!v.IsString()) {
      Napi::TypeError::New(env, "paths must be strings").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    names[i] = v.As<Napi::String>().Utf8Value();
  }
  Napi::Int32Array lengths = Napi::Int32Array::New(env, n);
  std::string data;
  // Each read() goes into this buffer and only what it returned is appended: no per-file
  // zero-filling of a 64 KiB tail.
  std::vector<char> chunk(65536);
  for (uint32_t i = 0; i < n; i++) {
    int fd = open(names[i].c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      lengths[i] = -errno;
      continue;
    }
    size_t start = data.size();
    size_t have = 0;
    int result = 0;
    for (;;) {
      // One byte over max tells "more than max" without reading the rest.
      size_t want = static_cast<size_t>(max) + 1 - have;
      if (want == 0) {
        result = -EFBIG;
        break;
      }
      if (want > chunk.size()) want = chunk.size();
      ssize_t r = read(fd, chunk.data(), want);
      if (r < 0) {
        if (errno == EINTR) continue;
        result = -errno;
        break;
      }
      if (r == 0) {
        result = static_cast<int>(have);
        break;
      }
      data.append(chunk.data(), static_cast<size_t>(r));
      have += static_cast<size_t>(r);
      // A regular file reads short only at its end: no second read() to see 0 (as @mptcp/unit's
      // own reader; the caller passes files readdir() reported as regular).
      if (static_cast<size_t>(r) < want) {
        result = static_cast<int>(have);
        break;
      }
    }
    close(fd);
    if (result <= 0) data.resize(start);
    lengths[i] = result;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", Napi::Buffer<char>::Copy(env, data.data(), data.size()));
  out.Set("lengths", lengths);
  return out;
}

}  // namespace

void InitStartup(Napi::Env env, Napi::Object exports) {
  exports.Set("reserveFds", Napi::Function::New(env, ReserveFds, "reserveFds"));
  exports.Set("setV8Flags", Napi::Function::New(env, SetV8Flags, "setV8Flags"));
  exports.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
  exports.Set("readSmallFiles", Napi::Function::New(env, ReadSmallFiles, "readSmallFiles"));
}

}  // namespace mptcp_native
