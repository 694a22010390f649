// uv_poll_t on an fd the caller owns: readiness without reading, accepting or blocking the loop.
// Used for "is a connection waiting?" (socket activation) and "has connect() finished?".
#include <errno.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <uv.h>

#include "addon.h"

namespace mptcp_native {

namespace {

// Freed when both the uv handle is closed and the JS handle object is garbage-collected, so a
// late stop() or a late callback never touches freed memory.
struct Watch {
  uv_poll_t handle;
  Napi::FunctionReference callback;
  Napi::ObjectReference resource;
  napi_async_context async = nullptr;
  napi_env env = nullptr;
  bool closed = false;
  int refs = 2;  // the uv handle + the JS External
};

void Release(Watch* w) {
  if (--w->refs > 0) return;
  delete w;
}

// The N-API side of a watcher (async context, references): released once, while the env is alive.
void ReleaseNapi(Watch* w) {
  if (w->async != nullptr) {
    napi_async_destroy(w->env, w->async);
    w->async = nullptr;
  }
  w->callback.Reset();
  w->resource.Reset();
}

void OnClose(uv_handle_t* h) {
  Watch* w = static_cast<Watch*>(h->data);
  // Released here, not in Stop(): Stop() may run inside the JS callback that these still serve. When
  // the JS handle was finalized first (GC, or the env's teardown at exit, after which the close
  // callbacks run with the env gone), the finalizer released them already.
  ReleaseNapi(w);
  Release(w);
}

void Stop(Watch* w) {
  if (w->closed) return;
  w->closed = true;
  uv_poll_stop(&w->handle);  // removes the fd from epoll now: the fd can be reused at once
  uv_close(reinterpret_cast<uv_handle_t*>(&w->handle), OnClose);
}

void OnPoll(uv_poll_t* h, int status, int events) {
  Watch* w = static_cast<Watch*>(h->data);
  if (w->closed || w->callback.IsEmpty()) return;
  Napi::Env env(w->env);
  Napi::HandleScope scope(env);
  // status < 0 is a libuv error (negated errno on Linux); events are UV_READABLE/UV_WRITABLE/UV_DISCONNECT.
  napi_value argv[2] = {Napi::Number::New(env, status), Napi::Number::New(env, events)};
  napi_value result;
  napi_status st = napi_make_callback(env, w->async, w->resource.Value(), w->callback.Value(), 2, argv, &result);
  // Not inside a JS call: a thrown exception goes to 'uncaughtException' like any other callback's;
  // a terminating worker env stops this watcher (no further calls into it).
  if (!AfterCallback(env, st)) uv_poll_stop(h);
}

}  // namespace

// pollStart(fd, events, callback(status, events)) → handle | -errno.
static Napi::Value PollStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, events;
  if (!ArgInt(info, 0, &fd) || !ArgInt(info, 1, &events)) return env.Undefined();
  if (info.Length() < 3 || !info[2].IsFunction()) {
    Napi::TypeError::New(env, "argument 2 must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return Errno(env, ENOSYS);
  Watch* w = new Watch();
  w->env = env;
  int r = uv_poll_init_socket(loop, &w->handle, fd);
  if (r < 0) {
    delete w;
    return Errno(env, -r);
  }
  w->handle.data = w;
  r = uv_poll_start(&w->handle, events & (UV_READABLE | UV_WRITABLE | UV_DISCONNECT), OnPoll);
  if (r < 0) {
    w->refs = 1;  // no JS object will exist
    w->closed = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&w->handle), OnClose);
    return Errno(env, -r);
  }
  Napi::Object resource = Napi::Object::New(env);
  w->resource = Napi::Persistent(resource);
  w->callback = Napi::Persistent(info[2].As<Napi::Function>());
  napi_async_init(env, resource, Napi::String::New(env, "MptcpPoll"), &w->async);
  return Napi::External<Watch>::New(env, w, [](Napi::Env, Watch* watch) {
    // GC of the JS handle, or the env's teardown at exit (a watcher still active or unref'd): an
    // unreachable watcher can never be stopped, so stop it now. No callback of it is running (its
    // handle would be reachable), so its N-API side goes now, while the env is alive: at exit the
    // close callback runs after the env is gone.
    ReleaseNapi(watch);
    Stop(watch);
    Release(watch);
  });
}

// pollStop(handle): idempotent; the loop is released at once (no keep-alive after stop).
static Napi::Value PollStop(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal()) {
    Napi::TypeError::New(info.Env(), "argument 0 must be a poll handle").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  Stop(info[0].As<Napi::External<Watch>>().Data());
  return info.Env().Undefined();
}

// pollRef(handle, on): whether an active watcher keeps the event loop alive (default: yes).
static Napi::Value PollRef(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal()) {
    Napi::TypeError::New(info.Env(), "argument 0 must be a poll handle").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  Watch* w = info[0].As<Napi::External<Watch>>().Data();
  if (!w->closed) {
    if (info.Length() > 1 && info[1].ToBoolean().Value())
      uv_ref(reinterpret_cast<uv_handle_t*>(&w->handle));
    else
      uv_unref(reinterpret_cast<uv_handle_t*>(&w->handle));
  }
  return info.Env().Undefined();
}

// The poll set (watch.ts): many fds in one epoll set of our own, whose epoll fd TypeScript watches
// with one uv_poll. An fd costs one epoll_ctl and no libuv handle, references or async context: a
// uv_poll per fd costs four syscalls (libuv's ioctl, EPOLL_CTL_ADD + DEL to check the fd, then ADD)
// and ~0.5 KB of handles and references, times the thousands of listening sockets of a daemon.

// pollSetAdd(epfd, fd, events, token): O_NONBLOCK on fd (as uv_poll does), then EPOLL_CTL_ADD with
// the epoll events and a 32-bit token reported back by pollSetWait(): 0 or -errno (-EEXIST: fd is in
// the set already; -EPERM: fd does not support polling, e.g. a regular file).
static Napi::Value PollSetAdd(const Napi::CallbackInfo& info) {
  int epfd, fd, events, token;
  if (!ArgInt(info, 0, &epfd) || !ArgInt(info, 1, &fd) || !ArgInt(info, 2, &events) || !ArgInt(info, 3, &token))
    return info.Env().Undefined();
  int on = 1;
  if (ioctl(fd, FIONBIO, &on) < 0) return Errno(info.Env(), errno);
  epoll_event ev{};
  ev.events = static_cast<uint32_t>(events);
  ev.data.u64 = static_cast<uint32_t>(token);
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), 0);
}

// pollSetRemove(epfd, fd): EPOLL_CTL_DEL: 0 or -errno.
static Napi::Value PollSetRemove(const Napi::CallbackInfo& info) {
  int epfd, fd;
  if (!ArgInt(info, 0, &epfd) || !ArgInt(info, 1, &fd)) return info.Env().Undefined();
  epoll_event ev{};
  if (epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), 0);
}

// pollSetWait(epfd, out: Uint32Array): epoll_wait without blocking; (token, epoll events) pairs into
// out, at most out.length / 2 of them: their count, or -errno.
static Napi::Value PollSetWait(const Napi::CallbackInfo& info) {
  int epfd;
  if (!ArgInt(info, 0, &epfd)) return info.Env().Undefined();
  if (info.Length() < 2 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    Napi::TypeError::New(info.Env(), "argument 1 must be a Uint32Array").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  Napi::Uint32Array out = info[1].As<Napi::Uint32Array>();
  constexpr size_t kMax = 256;
  size_t max = out.ElementLength() / 2;
  if (max > kMax) max = kMax;
  epoll_event evs[kMax];
  int n;
  do {
    n = epoll_wait(epfd, evs, static_cast<int>(max), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Errno(info.Env(), errno);
  uint32_t* data = out.Data();
  for (int i = 0; i < n; i++) {
    data[2 * i] = static_cast<uint32_t>(evs[i].data.u64);
    data[2 * i + 1] = evs[i].events;
  }
  return Napi::Number::New(info.Env(), n);
}

void InitPoll(Napi::Env env, Napi::Object exports) {
  exports.Set("pollSetAdd", Napi::Function::New(env, PollSetAdd, "pollSetAdd"));
  exports.Set("pollSetRemove", Napi::Function::New(env, PollSetRemove, "pollSetRemove"));
  exports.Set("pollSetWait", Napi::Function::New(env, PollSetWait, "pollSetWait"));
  Napi::Object ep = Napi::Object::New(env);
  ep.Set("EPOLLIN", static_cast<double>(EPOLLIN));
  ep.Set("EPOLLOUT", static_cast<double>(EPOLLOUT));
  ep.Set("EPOLLRDHUP", static_cast<double>(EPOLLRDHUP));
  ep.Set("EPOLLHUP", static_cast<double>(EPOLLHUP));
  ep.Set("EPOLLERR", static_cast<double>(EPOLLERR));
  exports.Set("pollSetEvents", ep);
  exports.Set("pollStart", Napi::Function::New(env, PollStart, "pollStart"));
  exports.Set("pollStop", Napi::Function::New(env, PollStop, "pollStop"));
  exports.Set("pollRef", Napi::Function::New(env, PollRef, "pollRef"));
  Napi::Object ev = Napi::Object::New(env);
  ev.Set("READABLE", static_cast<double>(UV_READABLE));
  ev.Set("WRITABLE", static_cast<double>(UV_WRITABLE));
  ev.Set("DISCONNECT", static_cast<double>(UV_DISCONNECT));
  exports.Set("pollEvents", ev);
}

}  // namespace mptcp_native
