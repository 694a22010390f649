// A zero-copy relay between two connected stream sockets (TCP, MPTCP, AF_UNIX): each direction
// moves its bytes socket → pipe → socket with splice(2) (SPLICE_F_MOVE | SPLICE_F_NONBLOCK), so
// they never enter user space, as systemd-socket-proxyd does. The sockets are watched by one
// uv_poll_t each on the event loop (no thread per relay; hundreds of relays cost hundreds of
// epoll entries): a wake-up runs a bounded number of splice calls and returns, so one busy relay
// cannot starve the loop. The pipes are only touched by us and need no watching: a full pipe
// means "wait until the destination socket is writable", an empty one "wait until the source is
// readable".
//
// EOF from one side is passed on as shutdown(SHUT_WR) toward the other (half-close) once the pipe
// of that direction is empty; the other direction keeps flowing. The relay ends when both
// directions have passed their EOF on (callback(0, aToB, bToA)), on the first error
// (callback(errno, …)), or on spliceRelayAbort (callback(ECANCELED, …)). It owns both sockets from
// the moment it starts and closes them (and its pipes) when it ends.
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstdint>

#include "addon.h"

namespace mptcp_native {

namespace {

// As systemd-socket-proxyd (BUFFER_SIZE): the kernel keeps the default (64 KiB) when it refuses.
constexpr int kPipeSize = 256 * 1024;
// splice calls per direction per wake-up before yielding to the loop (level-triggered epoll
// brings us back at once when there is more).
constexpr int kSplicesPerWake = 16;

struct Direction {
  int src = -1;
  int dst = -1;
  UniqueFd pipeRead;
  UniqueFd pipeWrite;
  size_t capacity = 0;
  size_t pending = 0;  // bytes in the pipe
  bool eof = false;    // src sent its FIN
  bool done = false;   // FIN passed on to dst
  bool wantRead = true;
  bool wantWrite = false;
  bool sawAgain = false;  // a splice of the last Pump returned EAGAIN
  uint64_t bytes = 0;     // delivered to dst
};

struct Relay {
  UniqueFd a;
  UniqueFd b;
  Direction ab;
  Direction ba;
  uv_poll_t pollA;
  uv_poll_t pollB;
  int eventsA = -1;
  int eventsB = -1;
  bool finished = false;
  napi_env env = nullptr;
  Napi::FunctionReference callback;
  Napi::ObjectReference resource;
  napi_async_context async = nullptr;
  int refs = 3;  // two uv handles + the JS External
};

void Release(Relay* r) {
  if (--r->refs == 0) delete r;
}

void OnClose(uv_handle_t* h) { Release(static_cast<Relay*>(h->data)); }

// Moves what it can in one direction. Returns 0 or an errno (the relay fails).
int Pump(Direction& d) {
  for (int i = 0; i < kSplicesPerWake; i++) {
    d.wantRead = d.wantWrite = false;
    if (i == 0) d.sawAgain = false;
    if (d.done) return 0;
    bool progress = false;
    bool outBlocked = false;
    bool inBlocked = false;
    if (d.pending > 0) {
      ssize_t n = splice(d.pipeRead.get(), nullptr, d.dst, nullptr, d.pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.pending -= static_cast<size_t>(n);
        d.bytes += static_cast<uint64_t>(n);
        progress = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        outBlocked = true;
        d.sawAgain = true;
      } else if (n < 0 && errno != EINTR) {
        return errno;
      }
    }
    if (d.pending == 0 && d.eof) {
      if (shutdown(d.dst, SHUT_WR) < 0) return errno;
      d.done = true;
      return 0;
    }
    if (!d.eof && d.pending < d.capacity) {
      ssize_t n =
          splice(d.src, nullptr, d.pipeWrite.get(), nullptr, d.capacity - d.pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d.pending += static_cast<size_t>(n);
        progress = true;
      } else if (n == 0) {
        d.eof = true;
        progress = true;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        // With bytes still in the pipe, EAGAIN may mean "pipe full" (its slots hold partial
        // pages): only the destination draining it helps then.
        inBlocked = d.pending == 0;
        d.sawAgain = true;
      } else if (errno != EINTR) {
        return errno;
      }
    }
    if (!progress) {
      d.wantWrite = outBlocked;
      d.wantRead = inBlocked;
      // Neither blocked nor progressing cannot last: bytes in the pipe and an unblocked
      // destination always progress. Guard anyway so a direction is never left unwatched.
      if (!d.wantWrite && !d.wantRead) d.wantWrite = d.pending > 0, d.wantRead = d.pending == 0;
      return 0;
    }
  }
  // Still busy: come back on the next loop turn (level-triggered).
  d.wantWrite = d.pending > 0;
  d.wantRead = !d.eof && d.pending == 0;
  return 0;
}

void Finish(Relay* r, int err) {
  if (r->finished) return;
  r->finished = true;
  uv_poll_stop(&r->pollA);
  uv_poll_stop(&r->pollB);
  uv_close(reinterpret_cast<uv_handle_t*>(&r->pollA), OnClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&r->pollB), OnClose);
  for (Direction* d : {&r->ab, &r->ba}) {
    d->pipeRead.reset();
    d->pipeWrite.reset();
  }
  r->a.reset();
  r->b.reset();
  Napi::Env env(r->env);
  Napi::HandleScope scope(env);
  napi_value argv[3] = {Napi::Number::New(env, err), Napi::Number::New(env, static_cast<double>(r->ab.bytes)),
                        Napi::Number::New(env, static_cast<double>(r->ba.bytes))};
  napi_value result;
  napi_status st = napi_make_callback(env, r->async, r->resource.Value(), r->callback.Value(), 3, argv, &result);
  AfterCallback(env, st);  // an exception to 'uncaughtException'; a terminating env's dropped
  napi_async_destroy(env, r->async);
  r->async = nullptr;
  r->callback.Reset();
  r->resource.Reset();
}

int Events(bool read, bool write) { return (read ? UV_READABLE : 0) | (write ? UV_WRITABLE : 0); }

// `recheck`: a splice just returned EAGAIN. libuv leaves an unchanged watcher alone, and a
// level-triggered epoll entry no longer on the ready list learns of readiness only from a wake-up;
// a socket whose state changed without one (an MPTCP socket moves data deferred while its reader
// held it at release time) would then never be polled again. Stop + start makes libuv delete and
// re-add the entry, and the kernel polls the socket's current state at the add.
int Arm(uv_poll_t* h, int* current, int events, uv_poll_cb cb, bool recheck) {
  if (events == *current && !(recheck && events != 0)) return 0;
  *current = events;
  if (events == 0) return -uv_poll_stop(h);
  if (recheck) uv_poll_stop(h);
  return -uv_poll_start(h, events, cb);
}

void OnPoll(uv_poll_t* h, int status, int events);

// Runs both directions and re-arms the watchers for what each now waits for.
void Step(Relay* r) {
  int err = Pump(r->ab);
  if (err == 0) err = Pump(r->ba);
  if (err == 0 && r->ab.done && r->ba.done) return Finish(r, 0);
  bool recheck = r->ab.sawAgain || r->ba.sawAgain;
  if (err == 0) err = Arm(&r->pollA, &r->eventsA, Events(r->ab.wantRead, r->ba.wantWrite), OnPoll, recheck);
  if (err == 0) err = Arm(&r->pollB, &r->eventsB, Events(r->ba.wantRead, r->ab.wantWrite), OnPoll, recheck);
  if (err != 0) Finish(r, err);
}

void OnPoll(uv_poll_t* h, int status, int /*events*/) {
  Relay* r = static_cast<Relay*>(h->data);
  if (r->finished) return;
  // status < 0: libuv saw POLLERR (it reports UV_EBADF and stops the watcher): the socket's own
  // error (ECONNRESET…) is in SO_ERROR. Otherwise just try: splice reports socket errors.
  if (status < 0) {
    int err = 0;
    socklen_t len = sizeof(err);
    int fd = h == &r->pollA ? r->a.get() : r->b.get();
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err == 0) err = -status;
    return Finish(r, err);
  }
  Step(r);
}

int MakePipe(Direction* d) {
  int p[2];
  if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) return errno;
  d->pipeRead.reset(p[0]);
  d->pipeWrite.reset(p[1]);
  fcntl(p[1], F_SETPIPE_SZ, kPipeSize);  // best effort (pipe-user-pages limits)
  int size = fcntl(p[1], F_GETPIPE_SZ);
  d->capacity = size > 0 ? static_cast<size_t>(size) : 65536;
  return 0;
}

int SetNonBlocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return errno;
  if ((fl & O_NONBLOCK) == 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return errno;
  return 0;
}

Relay* RelayOf(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal()) {
    Napi::TypeError::New(info.Env(), "argument 0 must be a relay handle").ThrowAsJavaScriptException();
    return nullptr;
  }
  return info[0].As<Napi::External<Relay>>().Data();
}

}  // namespace

// spliceRelay(fdA, fdB, callback(errno, aToB, bToA)) → handle | -errno. On success the relay owns
// both fds (made non-blocking) and closes them when it ends; on -errno nothing was taken.
static Napi::Value SpliceRelay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fdA, fdB;
  if (!ArgInt(info, 0, &fdA) || !ArgInt(info, 1, &fdB)) return env.Undefined();
  if (info.Length() < 3 || !info[2].IsFunction()) {
    Napi::TypeError::New(env, "argument 2 must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (fdA < 0 || fdB < 0) return Errno(env, EBADF);
  if (fdA == fdB) return Errno(env, EINVAL);
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return Errno(env, ENOSYS);
  for (int fd : {fdA, fdB}) {
    int type = 0;
    socklen_t len = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return Errno(env, errno);
    if (type != SOCK_STREAM) return Errno(env, ENOTSUP);
  }
  Relay* r = new Relay();
  r->env = env;
  r->ab.src = r->ba.dst = fdA;
  r->ab.dst = r->ba.src = fdB;
  int err = MakePipe(&r->ab);
  if (err == 0) err = MakePipe(&r->ba);
  if (err == 0) err = SetNonBlocking(fdA);
  if (err == 0) err = SetNonBlocking(fdB);
  if (err != 0) {
    delete r;
    return Errno(env, err);
  }
  int uerr = uv_poll_init_socket(loop, &r->pollA, fdA);
  if (uerr < 0) {
    delete r;
    return Errno(env, -uerr);
  }
  r->pollA.data = r;
  uerr = uv_poll_init_socket(loop, &r->pollB, fdB);
  if (uerr < 0) {
    r->refs = 1;  // pollA's close releases it
    uv_close(reinterpret_cast<uv_handle_t*>(&r->pollA), OnClose);
    return Errno(env, -uerr);
  }
  r->pollB.data = r;
  // Everything set up: from here the relay owns the fds.
  r->a.reset(fdA);
  r->b.reset(fdB);
  Napi::Object resource = Napi::Object::New(env);
  r->resource = Napi::Persistent(resource);
  r->callback = Napi::Persistent(info[2].As<Napi::Function>());
  napi_async_init(env, resource, Napi::String::New(env, "MptcpSpliceRelay"), &r->async);
  err = Arm(&r->pollA, &r->eventsA, UV_READABLE, OnPoll, false);
  if (err == 0) err = Arm(&r->pollB, &r->eventsB, UV_READABLE, OnPoll, false);
  if (err != 0) {
    // Cannot happen for a valid socket; report it through the callback (the fds are ours now).
    uv_poll_stop(&r->pollA);
    uv_poll_stop(&r->pollB);
    r->eventsA = r->eventsB = 0;
  }
  Napi::Value handle = Napi::External<Relay>::New(env, r, [](Napi::Env, Relay* relay) { Release(relay); });
  if (err != 0) Finish(r, err);
  return handle;
}

// spliceRelayAbort(handle): ends a running relay now (callback(ECANCELED, …)); idempotent.
static Napi::Value SpliceRelayAbort(const Napi::CallbackInfo& info) {
  Relay* r = RelayOf(info);
  if (r != nullptr) Finish(r, ECANCELED);
  return info.Env().Undefined();
}

// spliceRelayRef(handle, on): whether a running relay keeps the event loop alive (default: yes).
static Napi::Value SpliceRelayRef(const Napi::CallbackInfo& info) {
  Relay* r = RelayOf(info);
  if (r != nullptr && !r->finished) {
    bool on = info.Length() > 1 && info[1].ToBoolean().Value();
    for (uv_poll_t* h : {&r->pollA, &r->pollB}) {
      if (on)
        uv_ref(reinterpret_cast<uv_handle_t*>(h));
      else
        uv_unref(reinterpret_cast<uv_handle_t*>(h));
    }
  }
  return info.Env().Undefined();
}

void InitSplice(Napi::Env env, Napi::Object exports) {
  exports.Set("spliceRelay", Napi::Function::New(env, SpliceRelay, "spliceRelay"));
  exports.Set("spliceRelayAbort", Napi::Function::New(env, SpliceRelayAbort, "spliceRelayAbort"));
  exports.Set("spliceRelayRef", Napi::Function::New(env, SpliceRelayRef, "spliceRelayRef"));
}

}  // namespace mptcp_native
