// The Accept=yes fast path: one native thread accepts on the listening sockets handed to it, admits
// each connection (TriggerLimit*=, PollLimit*=, MaxConnections=, MaxConnectionsPerSource=, exactly
// as the TypeScript engine would), spawns the socket's template (a SpawnRequest prepared once by JS,
// see spawn_request.h) with the connection as its fds and REMOTE_ADDR/REMOTE_PORT/INVOCATION_ID
// filled in, closes its copy of the connection, and reaps the instance through its pidfd when it
// exits. Given a cgroup directory, each instance starts in a cgroup of its own there, named as its
// unit (clone3 CLONE_INTO_CGROUP), removed once it exits and is empty. JS hears about it in batches
// (one uv_async wake-up for everything since the last one): started (pid, name, addresses,
// invocation id), exited (status; the cgroup when a process it left holds it), refused, limit hits,
// failures. JS does nothing per connection before the service runs.
//
// Ownership: a listener's fd stays the caller's; acceptorRemove() returns at once, and the thread
// never accepts on it again (the thread accepts with the lock held, and checks `active` under it), so
// the caller may close it right after. It never waits for a spawn in flight: a child can hang before
// its exec (a chdir on a dead NFS mount, an execve whose binary is leased), and stop or reload must
// not. Such a connection was admitted already: acceptorRemove() names it (its source, for the
// caller's limits), and its `started` or `spawn-failed` event comes later; the thread that spawns it
// keeps the listener's memory (a shared_ptr) until then. The pidfds are the thread's.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "addon.h"
#include "spawn_request.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace mptcp_native {

namespace {

int64_t MonoUsec() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// ratelimit_below() with the engine's RateLimit semantics (rate-limit.ts): a window starts at the
// first event after the previous one ended; off when interval or burst is 0.
struct RateState {
  int64_t intervalUsec = 0;
  int64_t burst = 0;
  int64_t begin = -1;
  int64_t count = 0;
  bool Below(int64_t now) {
    if (intervalUsec <= 0 || burst <= 0) return true;
    if (begin < 0 || now - begin > intervalUsec) {
      begin = now;
      count = 1;
      return true;
    }
    count += 1;
    return count <= burst;
  }
};

// A file whose change hands the socket back to JS (User= resolved from /etc/passwd, /etc/group).
struct WatchedFile {
  std::string path;
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  int64_t mtimeNs = 0, ctimeNs = 0;
  static WatchedFile Of(const std::string& path) {
    WatchedFile w;
    w.path = path;
    struct stat st;
    if (stat(path.c_str(), &st) == 0) {
      w.exists = true;
      w.dev = st.st_dev;
      w.ino = st.st_ino;
      w.size = st.st_size;
      w.mtimeNs = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      w.ctimeNs = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
    }
    return w;
  }
  bool Same(const WatchedFile& o) const {
    return exists == o.exists && dev == o.dev && ino == o.ino && size == o.size && mtimeNs == o.mtimeNs &&
           ctimeNs == o.ctimeNs;
  }
};

// The directory (O_PATH) the instances' cgroups are made in: `<tree>` of @mptcp/activation's cgroup.ts.
// Shared by the listener and its children (a child's cgroup is removed after its listener went).
struct CgroupBase {
  int fd = -1;
  ~CgroupBase() {
    if (fd >= 0) close(fd);
  }
};

struct Listener {
  uint32_t id = 0;
  int fd = -1;
  bool active = true;
  bool inEpoll = false;
  int64_t resumeAt = -1;  // paused (poll limit, EMFILE) until then; -1: not paused
  bool emfilePaused = false;
  // Connections between admission and their spawn's outcome: source key, counted per source.
  std::vector<std::pair<std::string, bool>> inflight;
  SpawnRequest req;
  std::vector<std::unique_ptr<SpawnRequest>> copies;  // req for threads 1…ThreadCount()-1
  std::vector<int> fdTemplate;                        // child fd i: -2 the connection, -1 /dev/null
  int envInvocation = -1, envAddr = -1, envPort = -1;
  int64_t maxConnections = 0, maxPerSource = 0, connections = 0;
  std::unordered_map<std::string, int64_t> perSource;
  RateState trigger, poll;
  std::vector<WatchedFile> watched;
  // The instances' names `<prefix>@<n>-<local>-<remote>.service` (n counts every admitted connection,
  // as the engine's nAccepted), and their cgroups' directory (null: none).
  std::string namePrefix;
  int64_t nextIndex = 0;
  std::shared_ptr<CgroupBase> cgroups;
};

struct ChildRec {
  int pidfd;
  uint32_t listener;
  std::string source;
  bool perSourceCounted;
  std::shared_ptr<CgroupBase> cgroups;  // its cgroup is cgroups/name (null: none)
  std::string name;
};

// What JS hears, in order.
enum EventType : int {
  kStarted = 1,
  kExited = 2,
  kRefused = 3,
  kTriggerLimit = 4,
  kPollLimit = 5,
  kFdsExhausted = 6,
  kAcceptError = 7,
  kSpawnFailed = 8,
  kReleased = 9,
  kReapFallback = 10  // a pidfd could not be watched (a: errno): reaped by polling from now on
};

struct Event {
  int type;
  uint32_t listener;
  int pid = 0;
  int a = 0;  // exited: code; refused: 1 max-connections / 2 per source; errors: errno
  int b = 0;  // exited: signal; refused: the count in the message
  int family = 0;
  std::string remote, local, text;  // text: invocation id, or a failed step's name
  int remotePort = 0, localPort = 0, scopeId = 0;
  // started, spawn-failed: the instance's unit name and number; exited: its cgroup's name when it
  // could not be removed (still populated: a process it left), else empty.
  std::string name;
  int64_t index = -1;
};

constexpr uint64_t kTagWake = 0;
constexpr uint64_t kTagListener = 1;
constexpr uint64_t kTagChild = 2;
constexpr int kAcceptsPerWake = 16;
// Threads accepting and spawning: a spawn holds its thread until the child has exec'd (vfork), and
// on a busy machine that child waits for a CPU; four overlap as the libuv pool does for the
// regular path.
constexpr int kMaxThreads = 4;
// MPTCP_ACCEPT_THREADS=1…4 (read once) sets how many; the default is kMaxThreads.
int ThreadCount() {
  static const int n = [] {
    const char* v = getenv("MPTCP_ACCEPT_THREADS");
    int k = v != nullptr ? atoi(v) : kMaxThreads;
    return k < 1 ? 1 : k > kMaxThreads ? kMaxThreads : k;
  }();
  return n;
}
// Started and exited events reach JS at most this often under load. Each wake-up of the event loop
// costs the daemon about the same CPU whatever the batch's size (the callback, its microtasks, the
// log's and the pid list's writes): 8 clients on /bin/cat, 10 ms → 50 ms took ~17 µs off the daemon's
// CPU per connection (README, "Where an Accept=yes spawn's time goes"). Admission and reaping never
// wait for JS; only what JS shows (status, log lines) lags, by at most this much.
constexpr int64_t kBatchUsec = 50000;
// Children whose pidfd epoll would not take (ENOSPC: fs.epoll.max_user_watches) are polled this often.
constexpr int64_t kReapPollUsec = 10000;

// Test-only knobs (read once, documented in the README): MPTCP_ACCEPT_TEST_FAIL_THREAD=k makes the
// k-th thread's pthread_create really fail (a stack no mmap can give); MPTCP_ACCEPT_TEST_REAP_POLL=1
// treats every pidfd as if epoll_ctl had refused it with ENOSPC.
int TestFailThread() {
  static const int n = [] {
    const char* v = getenv("MPTCP_ACCEPT_TEST_FAIL_THREAD");
    return v != nullptr ? atoi(v) : 0;
  }();
  return n;
}
bool TestReapPoll() {
  static const bool on = [] {
    const char* v = getenv("MPTCP_ACCEPT_TEST_REAP_POLL");
    return v != nullptr && strcmp(v, "1") == 0;
  }();
  return on;
}

// The printable address as systemd's sockaddr_pretty() without port (v4-mapped as IPv4), the port,
// and the family (4 or 6; 0: not an inet address).
void InetText(const sockaddr_storage& ss, std::string* text, int* port, int* family, int* scope) {
  char buf[INET6_ADDRSTRLEN];
  *family = 0;
  *port = 0;
  *scope = 0;
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    *text = buf;
    *port = ntohs(in->sin_port);
    *family = 4;
  } else if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    *text = buf;
    *port = ntohs(in6->sin6_port);
    *family = 6;
    *scope = static_cast<int>(in6->sin6_scope_id);
  }
}

std::string V4MappedOrSelf(const std::string& a) {
  static const char kPrefix[] = "::ffff:";
  if (a.size() > 7 && strncasecmp(a.c_str(), kPrefix, 7) == 0 && a.find('.') != std::string::npos) return a.substr(7);
  return a;
}

// `<prefix>@<n>-<local>:<lport>-<remote>:<rport>.service`, as @mptcp/activation's connectionInstance()
// (IPv6 without brackets; the IPv4 forms when both ends are v4-mapped).
std::string InstanceName(const std::string& prefix, int64_t n, std::string local, int lport, std::string remote,
                         int rport) {
  std::string l4 = V4MappedOrSelf(local), r4 = V4MappedOrSelf(remote);
  if (l4 != local && r4 != remote) {
    local = l4;
    remote = r4;
  }
  return prefix + "@" + std::to_string(n) + "-" + local + ":" + std::to_string(lport) + "-" + remote + ":" +
         std::to_string(rport) + ".service";
}

// A v4 UUID without dashes (sd_id128_randomize()), as environment.ts invocationId().
std::string InvocationId() {
  unsigned char b[16];
  size_t got = 0;
  while (got < sizeof b) {
    ssize_t n = getrandom(b + got, sizeof b - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    got += static_cast<size_t>(n);
  }
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  static const char kHex[] = "0123456789abcdef";
  std::string s(32, '0');
  for (int i = 0; i < 16; i++) {
    s[2 * i] = kHex[b[i] >> 4];
    s[2 * i + 1] = kHex[b[i] & 15];
  }
  return s;
}

class Acceptor {
 public:
  // 0, or the errno of the step that failed; then no thread runs and nothing is left open, so the
  // object may be deleted.
  int Start(Napi::Env env, Napi::Function callback) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) return errno;
    wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wakeFd_ < 0) {
      int err = errno;
      CloseFds();
      return err;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kTagWake << 32;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, wakeFd_, &ev) < 0) {
      int err = errno;
      CloseFds();
      return err;
    }
    // The threads first: a failure then stops and joins the ones started, and no libuv handle
    // exists yet (they push nothing before a listener is added, so they never touch async_).
    // They run no signal handler of Node's: every signal blocked in them.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0, started = 0;
    for (int i = 0; i < ThreadCount() && rc == 0; i++) {
      starts_[i] = {this, i};
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      if (TestFailThread() == i + 1) pthread_attr_setstacksize(&attr, static_cast<size_t>(1) << 46);
      rc = pthread_create(&threads_[i], &attr, ThreadMain, &starts_[i]);
      pthread_attr_destroy(&attr);
      if (rc == 0) started += 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (rc != 0) {
      {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
      }
      uint64_t one = 1;
      ssize_t w = write(wakeFd_, &one, sizeof one);  // level-triggered: every thread sees it
      (void)w;
      for (int i = 0; i < started; i++) pthread_join(threads_[i], nullptr);
      CloseFds();
      return rc;
    }
    env_ = env;
    callback_ = Napi::Persistent(callback);
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    uv_async_init(loop, &async_, OnAsync);
    async_.data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
    return 0;
  }

  void CloseFds() {
    if (wakeFd_ >= 0) close(wakeFd_);
    if (epfd_ >= 0) close(epfd_);
    wakeFd_ = epfd_ = -1;
  }

  // The loop stays alive while a listener, a child or a spawn under way is held.
  void UpdateRef() {
    bool want = !listeners_.empty() || !children_.empty() || spawning_ > 0;
    if (want && !reffed_) uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
    if (!want && reffed_) uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
    reffed_ = want;
  }

  int Add(std::shared_ptr<Listener> l) {
    std::lock_guard<std::mutex> lk(mu_);
    l->id = ++nextId_;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;  // one thread per wake-up, not all of them
    ev.data.u64 = (kTagListener << 32) | l->id;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, l->fd, &ev) < 0) return -errno;
    l->inEpoll = true;
    listeners_[l->id] = l;
    UpdateRef();
    return static_cast<int>(l->id);
  }

  // After this the thread never accepts on the listener's fd again. Its children stay tracked. Never
  // waits: *inflight gets the connections admitted whose spawn has no outcome yet (their events
  // come later), *events everything not delivered so far (taken under the same lock, so an
  // in-flight connection is in exactly one of the two).
  bool Remove(uint32_t id, std::vector<std::pair<std::string, bool>>* inflight, std::vector<Event>* events,
              int64_t* nextIndex) {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = listeners_.find(id);
    if (it == listeners_.end()) return false;
    std::shared_ptr<Listener> l = it->second;
    Deactivate(*l);
    listeners_.erase(it);
    UpdateRef();
    *inflight = l->inflight;
    *nextIndex = l->nextIndex;
    TakeLocked(events);
    return true;
  }

  // A connection of this socket that JS itself served has ended: one less in the limits.
  void ReleaseExternal(uint32_t id, const std::string& source, bool perSource) {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = listeners_.find(id);
    if (it == listeners_.end()) return;
    Uncount(*it->second, source, perSource);
  }

  int Kill(int pid, int sig, bool group) {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = children_.find(pid);
    if (it == children_.end()) return -ESRCH;
    // Unreaped, so neither the pid nor (for a session leader) the group id can have been reused.
    long r = group ? kill(-pid, sig) : syscall(SYS_pidfd_send_signal, it->second.pidfd, sig, nullptr, 0);
    if (r < 0 && group && errno == ESRCH) r = syscall(SYS_pidfd_send_signal, it->second.pidfd, sig, nullptr, 0);
    return r < 0 ? -errno : 0;
  }

  std::vector<Event> Take() {
    std::lock_guard<std::mutex> lk(mu_);
    std::vector<Event> out;
    TakeLocked(&out);
    return out;
  }
  void TakeLocked(std::vector<Event>* out) {
    out->swap(events_);
    events_.clear();
    signaled_ = false;
    flushAt_ = -1;
  }

  Napi::FunctionReference callback_;
  Napi::Env env_ = nullptr;

 private:
  struct ThreadStart {
    Acceptor* self;
    int index;
  };
  static void* ThreadMain(void* arg) {
    pthread_setname_np(pthread_self(), "mptcp-accept");
    auto* st = static_cast<ThreadStart*>(arg);
    st->self->Loop(st->index);
    return nullptr;
  }

  static void OnAsync(uv_async_t* h) {
    Acceptor* a = static_cast<Acceptor*>(h->data);
    Napi::Env env = a->env_;
    Napi::HandleScope scope(env);
    std::vector<Event> evs = a->Take();
    {
      std::lock_guard<std::mutex> lk(a->mu_);
      a->UpdateRef();
    }
    // A terminating worker env: building the array would throw, which aborts without C++ exceptions.
    if (evs.empty() || !CanRunJs(env)) return;
    Napi::Value arr = ToJs(env, evs);
    napi_value result;
    napi_value argv[1] = {arr};
    napi_value global;
    napi_get_global(env, &global);
    napi_status st = napi_call_function(env, global, a->callback_.Value(), 1, argv, &result);
    AfterCallback(env, st);  // an exception to 'uncaughtException'; a terminating env's dropped
  }

 public:
  // [type, listener, pid, a, b, family, remote, remotePort, local, localPort, text, scopeId, name, index]
  // per event, flat.
  static Napi::Value ToJs(Napi::Env env, const std::vector<Event>& evs) {
    constexpr uint32_t kFields = 14;
    Napi::Array arr = Napi::Array::New(env, evs.size() * kFields);
    uint32_t i = 0;
    for (const Event& e : evs) {
      arr.Set(i++, e.type);
      arr.Set(i++, e.listener);
      arr.Set(i++, e.pid);
      arr.Set(i++, e.a);
      arr.Set(i++, e.b);
      arr.Set(i++, e.family);
      arr.Set(i++, Napi::String::New(env, e.remote));
      arr.Set(i++, e.remotePort);
      arr.Set(i++, Napi::String::New(env, e.local));
      arr.Set(i++, e.localPort);
      arr.Set(i++, Napi::String::New(env, e.text));
      arr.Set(i++, e.scopeId);
      arr.Set(i++, Napi::String::New(env, e.name));
      arr.Set(i++, static_cast<double>(e.index));
    }
    return arr;
  }

 private:
  // Events reach JS at most every kBatchUsec: the first after a quiet spell at once, the ones
  // after it together (the event loop wakes once per batch, not once per connection). The ones that
  // change who serves the socket or pause it (trigger limit, released, poll limit, fds exhausted, the
  // reap fallback) go at once, with what is pending: each comes at most once per pause or hand-over.
  // Refusals and failed spawns can come once per connection, so they are batched as the rest.
  void Push(Event&& e) {
    bool urgent = e.type == kTriggerLimit || e.type == kReleased || e.type == kPollLimit || e.type == kFdsExhausted ||
                  e.type == kReapFallback;
    events_.push_back(std::move(e));
    if (signaled_) return;
    int64_t now = MonoUsec();
    if (urgent || now - lastSignal_ >= kBatchUsec) {
      Signal(now);
    } else if (flushAt_ < 0) {
      // The pushing thread is not waiting: its next epoll_wait() takes this deadline as timeout.
      flushAt_ = lastSignal_ + kBatchUsec;
    }
  }

  void Signal(int64_t now) {
    signaled_ = true;
    flushAt_ = -1;
    lastSignal_ = now;
    uv_async_send(&async_);
  }

  void Deactivate(Listener& l) {
    l.active = false;
    if (l.inEpoll) epoll_ctl(epfd_, EPOLL_CTL_DEL, l.fd, nullptr);
    l.inEpoll = false;
  }

  void Pause(Listener& l, int64_t until) {
    if (l.inEpoll) epoll_ctl(epfd_, EPOLL_CTL_DEL, l.fd, nullptr);
    l.inEpoll = false;
    l.resumeAt = until;
  }

  void Resume(Listener& l) {
    l.resumeAt = -1;
    l.emfilePaused = false;
    if (!l.active || l.inEpoll) return;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;  // one thread per wake-up, not all of them
    ev.data.u64 = (kTagListener << 32) | l.id;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, l.fd, &ev) == 0) l.inEpoll = true;
  }

  void Uncount(Listener& l, const std::string& source, bool perSource) {
    if (l.connections > 0) l.connections -= 1;
    if (!perSource) return;
    auto it = l.perSource.find(source);
    if (it == l.perSource.end()) return;
    if (--it->second <= 0) l.perSource.erase(it);
  }

  int NextTimeoutMs(int64_t now) {
    int64_t soonest = flushAt_;
    if (!polled_.empty() && (soonest < 0 || nextReapPoll_ < soonest)) soonest = nextReapPoll_;
    for (auto& [id, l] : listeners_)
      if (l->resumeAt >= 0 && (soonest < 0 || l->resumeAt < soonest)) soonest = l->resumeAt;
    if (soonest < 0) return -1;
    int64_t ms = (soonest - now + 999) / 1000;
    return ms < 0 ? 0 : static_cast<int>(ms);
  }

  void Loop(int tid) {
    epoll_event evs[64];
    for (;;) {
      int timeout;
      {
        std::lock_guard<std::mutex> lk(mu_);
        timeout = NextTimeoutMs(MonoUsec());
      }
      int n = epoll_wait(epfd_, evs, 64, timeout);
      if (n < 0 && errno != EINTR) return;
      std::vector<uint32_t> ready;
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (stop_) return;  // Start() failed for a later thread: it joins this one
        int64_t now = MonoUsec();
        // Children epoll would not watch: looked at on every wake-up, and every kReapPollUsec.
        if (!polled_.empty() && now >= nextReapPoll_) {
          nextReapPoll_ = now + kReapPollUsec;
          std::vector<int> pids = polled_;
          for (int pid : pids) OnChildExit(pid);
        }
        if (flushAt_ >= 0 && now >= flushAt_ && !signaled_) Signal(now);
        for (auto& [id, l] : listeners_) {
          if (l->resumeAt >= 0 && now >= l->resumeAt) {
            // The poll limit's pause is over: a fresh window (socket-runtime.ts resets it too).
            if (!l->emfilePaused) {
              l->poll.begin = -1;
              l->poll.count = 0;
            }
            Resume(*l);
          }
        }
        for (int i = 0; i < n; i++) {
          uint64_t kind = evs[i].data.u64 >> 32;
          uint32_t id = static_cast<uint32_t>(evs[i].data.u64 & 0xffffffffu);
          if (kind == kTagWake) {
            uint64_t v;
            while (read(wakeFd_, &v, sizeof v) > 0) {
            }
          } else if (kind == kTagChild) {
            OnChildExit(static_cast<int>(id));
          } else if (kind == kTagListener) {
            ready.push_back(id);
          }
        }
      }
      for (uint32_t id : ready) OnListener(id, tid);
    }
  }

  // Called with mu_ held.
  void OnChildExit(int pid) {
    auto it = children_.find(pid);
    if (it == children_.end()) return;
    siginfo_t si{};
    int r;
    do {
      r = waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(it->second.pidfd), &si, WEXITED | WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0 && si.si_pid == 0) return;  // not yet
    ChildRec rec = std::move(it->second);
    children_.erase(it);
    for (size_t i = 0; i < polled_.size(); i++) {
      if (polled_[i] == pid) {
        polled_[i] = polled_.back();
        polled_.pop_back();
        break;
      }
    }
    // Out of the set before the close: a spawn in flight on another thread holds a copy of this fd
    // until its exec, and the registration lives as long as any copy (the other threads would spin).
    epoll_ctl(epfd_, EPOLL_CTL_DEL, rec.pidfd, nullptr);
    close(rec.pidfd);
    Event e{};
    e.type = kExited;
    e.listener = rec.listener;
    e.pid = pid;
    bool exited = si.si_code == CLD_EXITED;
    e.a = r < 0 ? -1 : exited ? si.si_status : -1;
    e.b = r < 0 ? 0 : exited ? 0 : si.si_status;
    // Its cgroup goes now unless a process it left holds it (EBUSY): then the caller drains it.
    if (rec.cgroups && unlinkat(rec.cgroups->fd, rec.name.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT)
      e.name = rec.name;
    auto lit = listeners_.find(rec.listener);
    if (lit != listeners_.end()) Uncount(*lit->second, rec.source, rec.perSourceCounted);
    // An fd came free: sockets that ran out of them accept again.
    for (auto& [id, l] : listeners_)
      if (l->emfilePaused) Resume(*l);
    Push(std::move(e));
  }

  void OnListener(uint32_t id, int tid) {
    std::shared_ptr<Listener> l;
    {
      std::lock_guard<std::mutex> lk(mu_);
      auto it = listeners_.find(id);
      if (it == listeners_.end() || !it->second->active || !it->second->inEpoll) return;
      l = it->second;
      int64_t now = MonoUsec();
      for (const WatchedFile& w : l->watched) {
        if (!w.Same(WatchedFile::Of(w.path))) {
          Deactivate(*l);
          Event e{};
          e.type = kReleased;
          e.listener = id;
          e.text = w.path;
          Push(std::move(e));
          return;
        }
      }
      if (!l->poll.Below(now)) {
        Pause(*l, now + l->poll.intervalUsec);
        Event e{};
        e.type = kPollLimit;
        e.listener = id;
        Push(std::move(e));
        return;
      }
    }
    for (int k = 0; k < kAcceptsPerWake; k++)
      if (!AcceptOne(l, tid)) return;
  }

  // One connection: false when the queue is empty or the listener stopped.
  bool AcceptOne(const std::shared_ptr<Listener>& lp, int tid) {
    Listener& l = *lp;
    // This thread's copy of the template: only this thread changes it.
    SpawnRequest& req = tid == 0 ? l.req : *l.copies[static_cast<size_t>(tid - 1)];
    sockaddr_storage remote{};
    socklen_t rlen = sizeof remote;
    std::string source, remoteText, localText;
    int remotePort = 0, localPort = 0, family = 0, scope = 0;
    bool countSource = false;
    int64_t index = -1;
    int conn;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (!l.active || !l.inEpoll) return false;
      conn = accept4(l.fd, reinterpret_cast<sockaddr*>(&remote), &rlen, SOCK_CLOEXEC);
      if (conn < 0) {
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED) return false;
        Event e{};
        e.listener = l.id;
        e.a = err;
        if (err == EMFILE || err == ENFILE) {
          e.type = kFdsExhausted;
          Pause(l, MonoUsec() + 1000000);
          l.emfilePaused = true;
        } else {
          e.type = kAcceptError;
        }
        Push(std::move(e));
        return false;
      }
      InetText(remote, &remoteText, &remotePort, &family, &scope);
      if (!l.trigger.Below(MonoUsec())) {
        close(conn);
        Deactivate(l);
        Event e{};
        e.type = kTriggerLimit;
        e.listener = l.id;
        e.family = family;
        e.remote = remoteText;
        e.remotePort = remotePort;
        e.scopeId = scope;
        Push(std::move(e));
        return false;
      }
      source = V4MappedOrSelf(remoteText);
      // socket_enter_running(): the global limit first, then the per-source one.
      int refused = 0;
      int64_t count = 0;
      if (l.connections >= l.maxConnections) {
        refused = 1;
        count = l.connections;
      } else if (l.maxPerSource > 0) {
        auto it = l.perSource.find(source);
        int64_t nn = (it == l.perSource.end() ? 0 : it->second) + 1;
        if (nn > l.maxPerSource) {
          refused = 2;
          count = nn;
        }
        countSource = true;
      }
      if (refused != 0) {
        close(conn);
        Event e{};
        e.type = kRefused;
        e.listener = l.id;
        e.a = refused;
        e.b = static_cast<int>(count);
        e.family = family;
        e.remote = remoteText;
        e.remotePort = remotePort;
        e.scopeId = scope;
        Push(std::move(e));
        return true;
      }
      // Counted now (accept and admission happen under the lock).
      l.connections += 1;
      if (countSource) l.perSource[source] += 1;
      l.inflight.emplace_back(source, countSource);
      spawning_ += 1;
      index = l.nextIndex++;
    }
    sockaddr_storage local{};
    socklen_t llen = sizeof local;
    int lfam = 0, lscope = 0;
    if (getsockname(conn, reinterpret_cast<sockaddr*>(&local), &llen) == 0)
      InetText(local, &localText, &localPort, &lfam, &lscope);
    // The per-connection parts of the template (only this thread touches l.req).
    std::string invocation = InvocationId();
    if (l.envInvocation >= 0) req.SetEnvEntry(l.envInvocation, "INVOCATION_ID=" + invocation);
    if (l.envAddr >= 0) {
      std::string shown = V4MappedOrSelf(remoteText);
      if (family == 6 && shown == remoteText && scope != 0) {
        char ifname[IF_NAMESIZE];
        shown += "%";
        shown += if_indextoname(static_cast<unsigned>(scope), ifname) ? ifname : std::to_string(scope);
      }
      req.SetEnvEntry(l.envAddr, "REMOTE_ADDR=" + shown);
    }
    if (l.envPort >= 0) req.SetEnvEntry(l.envPort, "REMOTE_PORT=" + std::to_string(remotePort));
    std::vector<int>& fds = req.Fds();
    for (size_t i = 0; i < l.fdTemplate.size() && i < fds.size(); i++) fds[i] = l.fdTemplate[i] == -2 ? conn : -1;
    req.CloseAfter().assign(1, conn);
    const char* step = "";
    req.pid = -1;
    req.pidfdOut = -1;
    req.failedResource = -1;
    std::string name = InstanceName(l.namePrefix, index, localText, localPort, remoteText, remotePort);
    // The instance's cgroup, where the regular path makes it (cgroup.ts CgroupTree.unit()): the child
    // starts in it (SpawnRequest::SetCgroupDir).
    int err = 0;
    int cgfd = -1;
    if (l.cgroups) {
      if (mkdirat(l.cgroups->fd, name.c_str(), 0755) < 0 && errno != EEXIST) {
        err = errno;
        step = "mkdir";
      } else if ((cgfd = openat(l.cgroups->fd, name.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
        err = errno;
        step = "open";
        unlinkat(l.cgroups->fd, name.c_str(), AT_REMOVEDIR);
      }
    }
    if (err == 0) {
      req.SetCgroupDir(cgfd);
      err = req.Run(&step);
      req.SetCgroupDir(-1);
      if (cgfd >= 0) close(cgfd);
      // Nothing ran in it (a child that failed has exited already: its cgroup is empty).
      if (err != 0 && l.cgroups) unlinkat(l.cgroups->fd, name.c_str(), AT_REMOVEDIR);
    } else {
      close(conn);
    }
    std::lock_guard<std::mutex> lk(mu_);
    spawning_ -= 1;
    for (size_t i = 0; i < l.inflight.size(); i++) {
      if (l.inflight[i].first == source && l.inflight[i].second == countSource) {
        l.inflight.erase(l.inflight.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
    Event e{};
    e.listener = l.id;
    e.family = family;
    e.remote = remoteText;
    e.remotePort = remotePort;
    e.local = localText;
    e.localPort = localPort;
    e.scopeId = scope;
    e.name = name;
    e.index = index;
    if (err != 0) {
      // Left open only when the spawn failed before its clone.
      if (std::string(step) == "mmap" || std::string(step) == "openat" || std::string(step) == "clone") close(conn);
      Uncount(l, source, countSource);
      e.type = kSpawnFailed;
      e.a = err;
      e.b = req.failedResource;
      e.text = step;
      Push(std::move(e));
      return true;
    }
    int pid = req.pid, pidfd = req.pidfdOut;
    children_[pid] = ChildRec{pidfd, l.id, source, countSource, l.cgroups, l.cgroups ? name : std::string()};
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.u64 = (kTagChild << 32) | static_cast<uint32_t>(pid);
    int werr = TestReapPoll() ? ENOSPC : epoll_ctl(epfd_, EPOLL_CTL_ADD, pidfd, &ev) < 0 ? errno : 0;
    if (werr != 0) {
      // Never unreaped (its MaxConnections= slot would never come back): polled instead.
      if (polled_.empty()) nextReapPoll_ = MonoUsec() + kReapPollUsec;
      polled_.push_back(pid);
      if (!reapFallbackReported_) {
        reapFallbackReported_ = true;
        Event f{};
        f.type = kReapFallback;
        f.listener = l.id;
        f.a = werr;
        Push(std::move(f));
      }
    }
    e.type = kStarted;
    e.pid = pid;
    e.text = std::move(invocation);
    Push(std::move(e));
    return true;
  }

  std::mutex mu_;
  bool stop_ = false;
  int spawning_ = 0;         // connections admitted whose spawn has no outcome yet (all listeners)
  std::vector<int> polled_;  // children reaped by polling (their pidfd is not in epfd_)
  int64_t nextReapPoll_ = 0;
  bool reapFallbackReported_ = false;
  int epfd_ = -1, wakeFd_ = -1;
  pthread_t threads_[kMaxThreads]{};
  ThreadStart starts_[kMaxThreads]{};
  uv_async_t async_{};
  bool signaled_ = false, reffed_ = false;
  int64_t lastSignal_ = 0, flushAt_ = -1;
  uint32_t nextId_ = 0;
  std::unordered_map<uint32_t, std::shared_ptr<Listener>> listeners_;
  std::unordered_map<int, ChildRec> children_;
  std::vector<Event> events_;
};

Acceptor* g_acceptor = nullptr;

int64_t NumberField(Napi::Object o, const char* key, int64_t dflt) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : dflt;
}

}  // namespace

// acceptorInit(callback): starts the fast path's thread (once per process); callback(events) gets
// every batch as a flat array (see Acceptor::ToJs). true when running.
static Napi::Value AcceptorInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // One thread per process, serving the environment that started it (the main thread's); a worker
  // thread's environment gets EBUSY and keeps the regular path.
  if (g_acceptor != nullptr)
    return g_acceptor->env_ == env ? Napi::Value(Napi::Boolean::New(env, true)) : Errno(env, EBUSY);
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(env, "acceptorInit(callback)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* a = new Acceptor();
  int err = a->Start(env, info[0].As<Napi::Function>());
  if (err != 0) {
    delete a;  // no thread runs and no handle exists (Start() cleaned up)
    return Errno(env, err);
  }
  g_acceptor = a;
  return Napi::Boolean::New(env, true);
}

// acceptorAdd(file, argv, envp, cwd, fds, uid, gid, groups, setsid, pidEnv, null, context, listenFd,
// config) → listener id | -errno. spawn()'s arguments, where fds[i] = -2 is the connection; config:
// { namePrefix, nextIndex (the instances' names and numbering), cgroupDir (each instance in
//   cgroupDir/<its name>; absent: no cgroup), invocationIndex, addrIndex, portIndex (envp entries replaced per
//   connection, -1: none), maxConnections, maxPerSource, connections, sources: { key: count }, triggerIntervalUsec,
//   triggerBurst, triggerBegin, triggerCount, pollIntervalUsec, pollBurst, pollBegin, pollCount, watch: [path...] }.
static Napi::Value AcceptorAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (g_acceptor == nullptr || g_acceptor->env_ != env) {
    Napi::Error::New(env, "acceptorInit() first").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto l = std::make_shared<Listener>();
  if (!l->req.Parse(info)) return env.Undefined();
  int listenFd;
  if (!ArgInt(info, 12, &listenFd)) return env.Undefined();
  if (info.Length() < 14 || !info[13].IsObject()) {
    Napi::TypeError::New(env, "acceptorAdd: config must be an object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object c = info[13].As<Napi::Object>();
  l->fd = listenFd;
  l->fdTemplate = l->req.Fds();
  for (int i = 1; i < ThreadCount(); i++) l->copies.push_back(l->req.Clone());
  int64_t nenv = static_cast<int64_t>(l->req.Envp().size());
  l->envInvocation = static_cast<int>(NumberField(c, "invocationIndex", -1));
  l->envAddr = static_cast<int>(NumberField(c, "addrIndex", -1));
  l->envPort = static_cast<int>(NumberField(c, "portIndex", -1));
  for (int idx : {l->envInvocation, l->envAddr, l->envPort}) {
    if (idx >= nenv) {
      Napi::RangeError::New(env, "acceptorAdd: environment index out of range").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  l->maxConnections = NumberField(c, "maxConnections", 64);
  l->maxPerSource = NumberField(c, "maxPerSource", 0);
  l->connections = NumberField(c, "connections", 0);
  Napi::Value sources = c.Get("sources");
  if (sources.IsObject()) {
    Napi::Object so = sources.As<Napi::Object>();
    Napi::Array keys = so.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); i++) {
      std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
      Napi::Value v = so.Get(k);
      if (v.IsNumber()) l->perSource[k] = v.As<Napi::Number>().Int64Value();
    }
  }
  l->trigger.intervalUsec = NumberField(c, "triggerIntervalUsec", 0);
  l->trigger.burst = NumberField(c, "triggerBurst", 0);
  l->trigger.begin = NumberField(c, "triggerBegin", -1);
  l->trigger.count = NumberField(c, "triggerCount", 0);
  l->poll.intervalUsec = NumberField(c, "pollIntervalUsec", 0);
  l->poll.burst = NumberField(c, "pollBurst", 0);
  l->poll.begin = NumberField(c, "pollBegin", -1);
  l->poll.count = NumberField(c, "pollCount", 0);
  Napi::Value prefix = c.Get("namePrefix");
  if (prefix.IsString()) l->namePrefix = prefix.As<Napi::String>().Utf8Value();
  l->nextIndex = NumberField(c, "nextIndex", 0);
  Napi::Value cgroupDir = c.Get("cgroupDir");
  if (cgroupDir.IsString()) {
    int fd = open(cgroupDir.As<Napi::String>().Utf8Value().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Napi::Number::New(env, -errno);
    l->cgroups = std::make_shared<CgroupBase>();
    l->cgroups->fd = fd;
  }
  Napi::Value watch = c.Get("watch");
  if (watch.IsArray()) {
    Napi::Array w = watch.As<Napi::Array>();
    for (uint32_t i = 0; i < w.Length(); i++)
      l->watched.push_back(WatchedFile::Of(w.Get(i).As<Napi::String>().Utf8Value()));
  }
  return Napi::Number::New(env, g_acceptor->Add(l));
}

// acceptorRemove(id) → false when not registered, else [events, inflight, nextIndex]: events as
// acceptorDrain()'s, inflight [source, perSource, ...] for the connections admitted whose spawn is
// still under way (their started/spawn-failed event comes later). Never waits; the thread never
// accepts on the fd afterwards.
static Napi::Value AcceptorRemove(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int id;
  if (!ArgInt(info, 0, &id)) return env.Undefined();
  std::vector<std::pair<std::string, bool>> inflight;
  std::vector<Event> events;
  int64_t nextIndex = 0;
  if (g_acceptor == nullptr || !g_acceptor->Remove(static_cast<uint32_t>(id), &inflight, &events, &nextIndex))
    return Napi::Boolean::New(env, false);
  Napi::Array pending = Napi::Array::New(env, inflight.size() * 2);
  uint32_t i = 0;
  for (const auto& [source, counted] : inflight) {
    pending.Set(i++, Napi::String::New(env, source));
    pending.Set(i++, Napi::Boolean::New(env, counted));
  }
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Acceptor::ToJs(env, events));
  out.Set(1u, pending);
  out.Set(2u, static_cast<double>(nextIndex));
  return out;
}

// acceptorRelease(id, source, perSource): a connection JS counted itself for this socket has ended.
static Napi::Value AcceptorRelease(const Napi::CallbackInfo& info) {
  int id;
  if (!ArgInt(info, 0, &id) || info.Length() < 3 || !info[1].IsString()) return info.Env().Undefined();
  if (g_acceptor != nullptr)
    g_acceptor->ReleaseExternal(static_cast<uint32_t>(id), info[1].As<Napi::String>().Utf8Value(),
                                info[2].ToBoolean().Value());
  return info.Env().Undefined();
}

// acceptorKill(pid, signal, group) → 0 | -errno (ESRCH: not one of the fast path's, or reaped).
static Napi::Value AcceptorKill(const Napi::CallbackInfo& info) {
  int pid, sig;
  if (!ArgInt(info, 0, &pid) || !ArgInt(info, 1, &sig)) return info.Env().Undefined();
  if (g_acceptor == nullptr) return Errno(info.Env(), ESRCH);
  return Napi::Number::New(info.Env(), g_acceptor->Kill(pid, sig, info.Length() > 2 && info[2].ToBoolean().Value()));
}

// acceptorDrain() → the events not delivered yet (same flat layout as the callback's), at once.
static Napi::Value AcceptorDrain(const Napi::CallbackInfo& info) {
  if (g_acceptor == nullptr) return Napi::Array::New(info.Env());
  return Acceptor::ToJs(info.Env(), g_acceptor->Take());
}

void InitAccept(Napi::Env env, Napi::Object exports) {
  exports.Set("acceptorInit", Napi::Function::New(env, AcceptorInit, "acceptorInit"));
  exports.Set("acceptorAdd", Napi::Function::New(env, AcceptorAdd, "acceptorAdd"));
  exports.Set("acceptorRemove", Napi::Function::New(env, AcceptorRemove, "acceptorRemove"));
  exports.Set("acceptorRelease", Napi::Function::New(env, AcceptorRelease, "acceptorRelease"));
  exports.Set("acceptorKill", Napi::Function::New(env, AcceptorKill, "acceptorKill"));
  exports.Set("acceptorDrain", Napi::Function::New(env, AcceptorDrain, "acceptorDrain"));
  exports.Set("acceptorCgroups", Napi::Boolean::New(env, true));
}

}  // namespace mptcp_native
