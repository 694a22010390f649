// uv_poll_t on an fd the caller owns: readiness without reading, accepting or blocking the loop.
// Used for "is a connection waiting?" (socket activation) and "has connect() finished?".
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

void OnClose(uv_handle_t* h) {
  Watch* w = static_cast<Watch*>(h->data);
  // Released here, not in Stop(): Stop() may run inside the JS callback that these still serve.
  if (w->async != nullptr) {
    napi_async_destroy(w->env, w->async);
    w->async = nullptr;
  }
  w->callback.Reset();
  w->resource.Reset();
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
  if (st != napi_ok && env.IsExceptionPending()) {
    // Not inside a JS call: hand the exception to 'uncaughtException' like any other callback would.
    Napi::Error e = env.GetAndClearPendingException();
    napi_fatal_exception(env, e.Value());
  }
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
    // GC of the JS handle: an unreachable watcher can never be stopped, so stop it now.
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

void InitPoll(Napi::Env env, Napi::Object exports) {
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
