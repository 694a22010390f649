// Process creation without fork(): clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD) on a private stack, as
// glibc's posix_spawn does. The child shares the parent's memory until execve, so it runs only raw,
// async-signal-safe syscalls on data prepared by the parent, and reports a failure by writing
// {errno, step} into that shared memory before _exit(127). The cloning thread is suspended until
// the child has exec'd or exited: spawn() does it on the main thread, spawnAsync() on a libuv pool
// thread so that the event loop keeps accepting and serving meanwhile. The caller gets
// { pid, pidfd } or { errno: -errno, syscall }.
//
// Plus the two syscalls the parent needs afterwards: waitid(P_PIDFD, WNOHANG) (readiness comes
// from uv_poll on the pidfd, see addon_poll.cc) and pidfd_send_signal.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "addon.h"
#include "child_caps.h"
#include "spawn_request.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef MOUNT_ATTR_NOSUID
#define MOUNT_ATTR_NOSUID 0x00000002
#endif
#ifndef MOUNT_ATTR_NOEXEC
#define MOUNT_ATTR_NOEXEC 0x00000008
#endif
#ifndef UMOUNT_NOFOLLOW
#define UMOUNT_NOFOLLOW 0x00000008
#endif

namespace mptcp_native {

namespace {

// The steps the child can fail in, reported as the syscall name of the typed error.
enum Step : int {
  kNone = 0,
  kSigaction,
  kSetsid,
  kDup,
  kOpen,
  kSetgroups,
  kSetgid,
  kSetuid,
  kChdir,
  kExecve,
  kOomScoreAdj,
  kSetpriority,
  kSetrlimit,
  kNoNewPrivs,
  kCapabilities,  // reported as "prctl" or "capset" (child_caps.h's CapOp)
  kUnshare,
  kMount,
  kMountSetattr,
  kStat,
  kCoredumpFilter,
  kSchedSetattr,
  kSchedSetaffinity,
  kIoprioSet,
  kTimerSlack,  // reported as "prctl" with option PR_SET_TIMERSLACK
  kPersonality,
  kCgroup  // the write of "0" to the cgroup's cgroup.procs (reported as "cgroup")
};
const char* const kStepNames[] = {"",
                                  "sigaction",
                                  "setsid",
                                  "dup3",
                                  "open",
                                  "setgroups",
                                  "setgid",
                                  "setuid",
                                  "chdir",
                                  "execve",
                                  "oom_score_adj",
                                  "setpriority",
                                  "setrlimit",
                                  "prctl",
                                  "prctl",
                                  "unshare",
                                  "mount",
                                  "mount_setattr",
                                  "lstat",
                                  "coredump_filter",
                                  "sched_setattr",
                                  "sched_setaffinity",
                                  "ioprio_set",
                                  "prctl",
                                  "personality",
                                  "cgroup"};

// The kernel's struct rlimit64 for prlimit64 (both fields 64-bit on every ABI).
struct KernelRlimit64 {
  uint64_t cur;
  uint64_t max;
};

// The kernel's struct mount_attr (mount_setattr(2), MOUNT_ATTR_SIZE_VER0).
struct KernelMountAttr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};

// The kernel's struct sched_attr (sched_setattr(2), SCHED_ATTR_SIZE_VER0).
struct KernelSchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};
constexpr uint64_t kSchedFlagResetOnFork = 0x01;
constexpr int kIoprioWhoProcess = 1;

// One MountStep as the child reads it (pointers into the request's strings).
struct ChildMount {
  int kind;
  const char* path;
  const char* source;   // bind: the source; nullptr otherwise
  const char* options;  // tmpfs: the data string
  unsigned long flags;  // tmpfs: the mount flags
  bool recursive;
  bool ignoreMissing;
  bool submount;
};

// Everything the child reads or writes; prepared by the parent, shared through CLONE_VM.
struct SpawnArgs {
  const char* file;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: stay
  const int* fds;   // child fd i <- parent fds[i]; -1: /dev/null
  int* scratch;     // fds.size() ints
  int nfds;
  bool setIds;
  bool setUid;
  bool setGid;
  uid_t uid;
  gid_t gid;
  const gid_t* groups;
  size_t ngroups;
  bool setsid;
  int cgroupFd;           // cgroup.procs of the cgroup to join (written "0"); -1: stay in the daemon's
  char* const* pidSlots;  // digits of getpid() go here (each slot has room for 20 + NUL)
  int npidSlots;
  // Exec context (systemd's IgnoreSIGPIPE=, UMask=, Limit*=, Nice=, OOMScoreAdjust=, NoNewPrivileges=).
  bool ignoreSigpipe;
  int umask;  // -1: keep
  const RlimitEntry* rlimits;
  int nrlimits;
  bool setNice;
  int nice;
  const char* oomText;  // decimal text for /proc/self/oom_score_adj; nullptr: keep
  int oomLen;
  bool noNewPrivs;
  // The mount namespace (PrivateTmp=, ProtectSystem=, ReadOnlyPaths=, …): steps in order; none: no namespace.
  const ChildMount* mounts;
  int nmounts;
  const char* const* inaccessible;  // reg, dir, chr, blk, fifo, sock
  // CapabilityBoundingSet= (the capabilities kept) and AmbientCapabilities= (child_caps.h).
  bool setBounding;
  uint64_t bounding;
  bool setAmbient;
  uint64_t ambient;
  // CoredumpFilter= (text for /proc/self/coredump_filter), CPUScheduling*=, CPUAffinity=, IOScheduling*=,
  // TimerSlackNSec=, Personality=.
  const char* coredumpText;  // nullptr: keep
  int coredumpLen;
  bool setSched;
  int schedPolicy;
  int schedPriority;
  bool schedResetOnFork;
  const unsigned long* affinity;  // nullptr: keep
  size_t affinityBytes;
  bool setIoprio;
  int ioprio;
  bool setTimerSlack;
  unsigned long timerSlack;
  bool setPersonality;
  unsigned long personality;
  // Written by the child on failure.
  volatile int err;
  volatile int step;
  volatile int failedResource;  // the resource of a failed setrlimit step
  int capOp;                    // the CapOp of a failed capability step
  int failedCap;                // its capability, or -1
  int failedMount;              // the index of a failed mount step, or -1
};

// The child uses raw syscalls only: glibc's setuid()/setgid()/setgroups() signal every thread of
// the process (setxid broadcast), which must never happen from a vfork child, and nothing in it may
// take a lock or allocate.
[[noreturn]] void Fail(SpawnArgs* a, int err, Step step) {
  a->err = err;
  a->step = step;
  syscall(SYS_exit, 127);
  __builtin_unreachable();
}

// Writes n in decimal into out (NUL-terminated) without libc formatting.
void FormatPid(long n, char* out) {
  char tmp[24];
  int len = 0;
  do {
    tmp[len++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n > 0 && len < 20);
  for (int i = 0; i < len; i++) out[i] = tmp[len - 1 - i];
  out[len] = '\0';
}

// systemd's setrlimit_closest(): when the limit cannot be raised (EPERM), get as close as the current
// hard limit allows; an unbounded hard limit means EPERM had another reason. 0 or an errno.
int SetRlimitClosest(const RlimitEntry& r) {
  KernelRlimit64 want{r.cur, r.max};
  if (syscall(SYS_prlimit64, 0, r.resource, &want, nullptr) == 0) return 0;
  int err = errno;
  if (err != EPERM) return err;
  KernelRlimit64 highest{};
  if (syscall(SYS_prlimit64, 0, r.resource, nullptr, &highest) < 0) return errno;
  if (highest.max == RLIM_INFINITY) return EPERM;
  KernelRlimit64 fixed{r.cur < highest.max ? r.cur : highest.max, r.max < highest.max ? r.max : highest.max};
  if (fixed.cur == highest.cur && fixed.max == highest.max) return 0;
  if (syscall(SYS_prlimit64, 0, r.resource, &fixed, nullptr) < 0) return errno;
  return 0;
}

// systemd's setpriority_closest(): when a lower nice level is refused (EPERM/EACCES), go as low as
// RLIMIT_NICE allows; raising it never fails. 0 or an errno.
int SetPriorityClosest(int nice) {
  if (syscall(SYS_setpriority, PRIO_PROCESS, 0, nice) == 0) return 0;
  int err = errno;
  if (err != EPERM && err != EACCES) return err;
  long raw = syscall(SYS_getpriority, PRIO_PROCESS, 0);  // the kernel returns 20 - nice
  if (raw < 0) return errno;
  int current = 20 - static_cast<int>(raw);
  if (nice == current) return 0;
  if (nice > current) return err;
  KernelRlimit64 lim{};
  if (syscall(SYS_prlimit64, 0, RLIMIT_NICE, nullptr, &lim) < 0) return errno;
  // rlimit_to_nice(): RLIMIT_NICE n allows nice 20 - n (clamped to -20…19).
  int limit = lim.cur >= 40 ? -20 : lim.cur <= 1 ? 19 : 20 - static_cast<int>(lim.cur);
  if (current > limit && syscall(SYS_setpriority, PRIO_PROCESS, 0, limit) < 0) return errno;
  return 0;
}

// InaccessiblePaths=: the node of the target's type to mount over it (systemd's
// mode_to_inaccessible_node(): a block device falls back to the char node, a device to the socket
// node, when that node is missing). nullptr for a symlink or an unknown type.
const char* InaccessibleNode(const char* const* nodes, unsigned mode) {
  int i;
  switch (mode & S_IFMT) {
    case S_IFREG:
      i = 0;
      break;
    case S_IFDIR:
      i = 1;
      break;
    case S_IFCHR:
      i = 2;
      break;
    case S_IFBLK:
      i = 3;
      break;
    case S_IFIFO:
      i = 4;
      break;
    case S_IFSOCK:
      i = 5;
      break;
    default:
      return nullptr;
  }
  if (i == 3 && syscall(SYS_faccessat, AT_FDCWD, nodes[3], F_OK, 0) < 0 && errno == ENOENT) i = 2;
  if ((i == 2 || i == 3) && syscall(SYS_faccessat, AT_FDCWD, nodes[i], F_OK, 0) < 0 && errno == ENOENT) i = 5;
  return nodes[i];
}

// The mount namespace, as systemd's setup_namespace() (the plan is the caller's, in its order): a
// namespace of its own, the host's mounts propagating in but none back (MS_SLAVE), the steps with
// umask 0 (mkdir modes as given), then / shared again inside it. 0, or an errno with the step.
int ApplyMounts(SpawnArgs* a, Step* step) {
  *step = kUnshare;
  if (syscall(SYS_unshare, CLONE_NEWNS) < 0) return errno;
  *step = kMount;
  if (syscall(SYS_mount, nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) < 0) return errno;
  long oldUmask = syscall(SYS_umask, 0);
  for (int i = 0; i < a->nmounts; i++) {
    const ChildMount& m = a->mounts[i];
    a->failedMount = i;
    int err = 0;
    *step = kMount;
    switch (m.kind) {
      case kMountUmount:
        // Everything stacked there; failures (busy, already gone) are ignored, as umount_recursive().
        for (int n = 0; n < 32 && syscall(SYS_umount2, m.path, UMOUNT_NOFOLLOW) == 0; n++) {
        }
        break;
      case kMountMkdir:
        syscall(SYS_mkdirat, AT_FDCWD, m.path, 0755);
        break;
      case kMountBind:
        if (syscall(SYS_mount, m.source, m.path, nullptr, MS_BIND | (m.recursive ? MS_REC : 0), nullptr) < 0)
          err = errno;
        break;
      case kMountInaccessible: {
        struct stat st;
        *step = kStat;
        if (syscall(SYS_newfstatat, AT_FDCWD, m.path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
          err = errno;
          break;
        }
        const char* node = InaccessibleNode(a->inaccessible, st.st_mode);
        if (node == nullptr) {
          err = ELOOP;  // systemd: "File type not supported for inaccessible mounts" (a symlink)
          break;
        }
        *step = kMount;
        if (syscall(SYS_mount, node, m.path, nullptr, MS_BIND | MS_REC, nullptr) < 0) err = errno;
        break;
      }
      case kMountTmpfs:
        if (syscall(SYS_mount, "tmpfs", m.path, "tmpfs", m.flags, m.options) < 0) err = errno;
        break;
      case kMountReadOnly:
      case kMountNoexec:
      case kMountNosuid: {
        uint64_t set = m.kind == kMountReadOnly ? MOUNT_ATTR_RDONLY
                       : m.kind == kMountNoexec ? MOUNT_ATTR_NOEXEC
                                                : MOUNT_ATTR_NOSUID;
        KernelMountAttr attr{set, 0, 0, 0};
        *step = kMountSetattr;
        unsigned flags = AT_SYMLINK_NOFOLLOW | (m.recursive ? AT_RECURSIVE : 0);
        if (syscall(SYS_mount_setattr, AT_FDCWD, m.path, flags, &attr, sizeof(attr)) < 0) err = errno;
        if (m.submount && err == EINVAL) err = 0;
        break;
      }
      default:
        err = EINVAL;
    }
    if (err == ENOENT && (m.ignoreMissing || m.submount)) err = 0;
    if (err != 0) return err;
  }
  a->failedMount = -1;
  syscall(SYS_umask, oldUmask);
  *step = kMount;
  if (syscall(SYS_mount, nullptr, "/", nullptr, MS_REC | MS_SHARED, nullptr) < 0) return errno;
  return 0;
}

int Child(void* arg) {
  SpawnArgs* a = static_cast<SpawnArgs*>(arg);
  // 1. Default dispositions for every signal: Node ignores SIGPIPE, libuv and V8 install handlers;
  //    a handler would run parent code on this stack. All signals are blocked (by the parent) until
  //    this is done. The kernel-reserved ones fail with EINVAL: ignored; SIGKILL and SIGSTOP (always
  //    EINVAL) are not asked. One syscall per signal, ~1 µs each here: two thirds of this child's
  //    steps before execve (the README's "Where an Accept=yes spawn's time goes").
  struct kernel_sigaction {
    void (*handler)(int);
    unsigned long flags;
    void (*restorer)();
    unsigned long mask;
  } dfl{SIG_DFL, 0, nullptr, 0}, ign{SIG_IGN, 0, nullptr, 0};
  for (int sig = 1; sig < 65; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    //  IgnoreSIGPIPE= (systemd's default yes): SIGPIPE ignored, as ignore_signals(SIGPIPE) right
    //  after systemd's reset (set at once here, the same end state); the disposition survives execve.
    if (sig == SIGPIPE && a->ignoreSigpipe) {
      if (syscall(SYS_rt_sigaction, SIGPIPE, &ign, nullptr, sizeof(unsigned long)) < 0) Fail(a, errno, kSigaction);
      continue;
    }
    syscall(SYS_rt_sigaction, sig, &dfl, nullptr, sizeof(unsigned long));
  }
  // 2. The service's cgroup (systemd's exec_spawn() attaches before anything else runs): every
  //    process it forks from now on is in it, whatever session or process group it moves to.
  if (a->cgroupFd >= 0 && syscall(SYS_write, a->cgroupFd, "0", 1) < 0) Fail(a, errno, kCgroup);
  //    Own session (and process group): the daemon signals the group on stop.
  if (a->setsid && syscall(SYS_setsid) < 0) Fail(a, errno, kSetsid);
  // 3. fds: first move every source below n above the highest target (CLOEXEC), so that placing
  //    fd i never overwrites a source still needed (a source at or above n cannot be overwritten:
  //    used as it is, which saves a syscall per fd, e.g. the connection on fds 0-2); then dup3
  //    into 0..n-1, which clears CLOEXEC on these copies only. The temporaries are CLOEXEC and
  //    vanish at execve.
  int devnull = -1;
  for (int i = 0; i < a->nfds; i++) {
    int src = a->fds[i];
    if (src < 0) {
      if (devnull < 0) {
        long fd = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0) Fail(a, errno, kOpen);
        if (fd < a->nfds) {
          long high = syscall(SYS_fcntl, static_cast<int>(fd), F_DUPFD_CLOEXEC, a->nfds);
          if (high < 0) Fail(a, errno, kDup);
          syscall(SYS_close, static_cast<int>(fd));
          fd = high;
        }
        devnull = static_cast<int>(fd);
      }
      a->scratch[i] = devnull;
      continue;
    }
    if (src >= a->nfds) {
      a->scratch[i] = src;
      continue;
    }
    long high = syscall(SYS_fcntl, src, F_DUPFD_CLOEXEC, a->nfds);
    if (high < 0) Fail(a, errno, kDup);
    a->scratch[i] = static_cast<int>(high);
  }
  for (int i = 0; i < a->nfds; i++) {
    if (syscall(SYS_dup3, a->scratch[i], i, 0) < 0) Fail(a, errno, kDup);
  }
  //    Then everything above them goes, as systemd's close_all_fds() before exec: an fd the parent
  //    holds without CLOEXEC (inherited by the daemon, received over SCM_RIGHTS, opened by another
  //    library) never reaches the program. The child has its own fd table (no CLONE_FILES), so the
  //    parent keeps its fds. close_range() is Linux 5.9+; before it (ENOSYS) only CLOEXEC protects.
  if (syscall(SYS_close_range, static_cast<unsigned>(a->nfds), ~0U, 0U) < 0 && errno != ENOSYS) Fail(a, errno, kDup);
  // 4. Exec context, while still privileged, in exec_invoke()'s order: OOMScoreAdjust= (EPERM/EACCES
  //    ignored, as systemd does in user namespaces), Nice= (closest), Limit*= (closest), UMask=.
  if (a->oomText != nullptr) {
    long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno != EPERM && errno != EACCES) Fail(a, errno, kOomScoreAdj);
    if (fd >= 0) {
      long n = syscall(SYS_write, static_cast<int>(fd), a->oomText, a->oomLen);
      int werr = errno;
      syscall(SYS_close, static_cast<int>(fd));
      if (n < 0 && werr != EPERM && werr != EACCES) Fail(a, werr, kOomScoreAdj);
    }
  }
  //    CoredumpFilter= (EPERM/EACCES ignored, as 257; the filter is the mm's, which this child shares with
  //    the daemon until execve copies it: Run() puts the daemon's back), CPUScheduling*= (sched_setattr, which also
  //    resets the nice level: Nice= comes after it), Nice=, CPUAffinity=, IOScheduling*=, TimerSlackNSec=,
  //    Personality=: exec_invoke()'s order.
  if (a->coredumpText != nullptr) {
    long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/coredump_filter", O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno != EPERM && errno != EACCES) Fail(a, errno, kCoredumpFilter);
    if (fd >= 0) {
      long n = syscall(SYS_write, static_cast<int>(fd), a->coredumpText, a->coredumpLen);
      int werr = errno;
      syscall(SYS_close, static_cast<int>(fd));
      if (n < 0 && werr != EPERM && werr != EACCES) Fail(a, werr, kCoredumpFilter);
    }
  }
  if (a->setSched) {
    KernelSchedAttr attr{};
    attr.size = sizeof(attr);
    attr.sched_policy = static_cast<uint32_t>(a->schedPolicy);
    attr.sched_priority = static_cast<uint32_t>(a->schedPriority);
    attr.sched_flags = a->schedResetOnFork ? kSchedFlagResetOnFork : 0;
    if (syscall(SYS_sched_setattr, 0, &attr, 0U) < 0) Fail(a, errno, kSchedSetattr);
  }
  if (a->setNice) {
    int err = SetPriorityClosest(a->nice);
    if (err != 0) Fail(a, err, kSetpriority);
  }
  if (a->affinity != nullptr && syscall(SYS_sched_setaffinity, 0, a->affinityBytes, a->affinity) < 0)
    Fail(a, errno, kSchedSetaffinity);
  if (a->setIoprio && syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, a->ioprio) < 0) Fail(a, errno, kIoprioSet);
  if (a->setTimerSlack && syscall(SYS_prctl, PR_SET_TIMERSLACK, a->timerSlack, 0UL, 0UL, 0UL) < 0)
    Fail(a, errno, kTimerSlack);
  if (a->setPersonality && syscall(SYS_personality, a->personality) < 0) Fail(a, errno, kPersonality);
  for (int i = 0; i < a->nrlimits; i++) {
    int err = SetRlimitClosest(a->rlimits[i]);
    if (err != 0) {
      a->failedResource = a->rlimits[i].resource;
      Fail(a, err, kSetrlimit);
    }
  }
  if (a->umask >= 0) syscall(SYS_umask, a->umask);
  // 5. The mount namespace (PrivateTmp=, ProtectSystem=, ProtectHome=, ReadOnlyPaths=, …): one of its
  //    own (the child has its own fs_struct: no CLONE_FS), the caller's plan applied (ApplyMounts).
  if (a->nmounts > 0) {
    Step mountStep = kNone;
    int err = ApplyMounts(a, &mountStep);
    if (err != 0) Fail(a, err, mountStep);
  }
  //    Capabilities, before the user switch (exec_invoke()): the bounding set, then the ambient set
  //    (raised in the inheritable set too).
  int capErr = 0;
  if (a->setBounding && (capErr = ChildDropBoundingSet(a->bounding, &a->failedCap, &a->capOp)) != 0)
    Fail(a, capErr, kCapabilities);
  if (a->setAmbient && (capErr = ChildApplyAmbient(a->ambient, true, &a->failedCap, &a->capOp)) != 0)
    Fail(a, capErr, kCapabilities);
  // 6. Credentials: supplementary groups, then gid, then uid (afterwards we could not). Ambient
  //    capabilities need the permitted set kept across setresuid() (enforce_user(): KEEP_CAPS when
  //    switching to a non-root uid) and raising again after it.
  bool ambientAcross = a->setAmbient && a->ambient != 0 && a->setUid;
  if (a->setIds) {
    if (syscall(SYS_setgroups, a->ngroups, a->groups) < 0) Fail(a, errno, kSetgroups);
    if (a->setGid && syscall(SYS_setresgid, a->gid, a->gid, a->gid) < 0) Fail(a, errno, kSetgid);
    if (ambientAcross && a->uid != 0 && (capErr = ChildKeepCaps(&a->capOp)) != 0) Fail(a, capErr, kCapabilities);
    if (a->setUid && syscall(SYS_setresuid, a->uid, a->uid, a->uid) < 0) Fail(a, errno, kSetuid);
    if (ambientAcross && (capErr = ChildApplyAmbient(a->ambient, false, &a->failedCap, &a->capOp)) != 0)
      Fail(a, capErr, kCapabilities);
  }
  // 7. Working directory, as the target user (systemd's order).
  if (a->cwd != nullptr && syscall(SYS_chdir, a->cwd) < 0) Fail(a, errno, kChdir);
  // 8. NoNewPrivileges=: the last step before exec, as in systemd (after the credentials).
  if (a->noNewPrivs && syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1UL, 0UL, 0UL, 0UL) < 0) Fail(a, errno, kNoNewPrivs);
  // 9. PID-valued variables (LISTEN_PID, SYSTEMD_EXEC_PID): this process' own PID.
  if (a->npidSlots > 0) {
    long pid = syscall(SYS_getpid);
    for (int i = 0; i < a->npidSlots; i++) FormatPid(pid, a->pidSlots[i]);
  }
  // 10. Unblock everything (the new program starts with an empty mask) and exec.
  unsigned long none = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, sizeof(none));
  syscall(SYS_execve, a->file, a->argv, a->envp);
  Fail(a, errno, kExecve);
}

bool StringArray(Napi::Env env, Napi::Value v, const char* what, std::vector<std::string>* out) {
  if (!v.IsArray()) {
    Napi::TypeError::New(env, std::string(what) + " must be an array of strings").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value e = arr.Get(i);
    if (!e.IsString()) {
      Napi::TypeError::New(env, std::string(what) + " must be an array of strings").ThrowAsJavaScriptException();
      return false;
    }
    std::string s = e.As<Napi::String>().Utf8Value();
    if (s.find('\0') != std::string::npos) {
      Napi::TypeError::New(env, std::string(what) + " must not contain NUL bytes").ThrowAsJavaScriptException();
      return false;
    }
    out->push_back(std::move(s));
  }
  return true;
}

bool FdArray(Napi::Env env, Napi::Value v, std::vector<int>* out) {
  if (!v.IsArray()) {
    Napi::TypeError::New(env, "fds must be an array of numbers").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Array arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value e = arr.Get(i);
    if (!e.IsNumber()) {
      Napi::TypeError::New(env, "fds must be an array of numbers").ThrowAsJavaScriptException();
      return false;
    }
    out->push_back(e.As<Napi::Number>().Int32Value());
  }
  return true;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> p;
  p.reserve(strings.size() + 1);
  for (auto& s : strings) p.push_back(&s[0]);
  p.push_back(nullptr);
  return p;
}

constexpr size_t kStackSize = 256 * 1024;

// clone3() with CLONE_INTO_CGROUP (kernel 5.7+): the child starts in its cgroup, so the spawn needs no
// migration (a write to cgroup.procs takes the cgroup write lock of every fork on the machine). glibc
// has no clone3 wrapper, and a CLONE_VM child on a stack of its own cannot return into C++ frames:
// this trampoline (glibc's clone3.S) runs fn(arg) in the child and exits with its result; the parent
// gets the raw syscall result (pid or -errno). x86_64 and aarch64; elsewhere the child joins by the write.
struct CloneArgs {
  uint64_t flags, pidfd, childTid, parentTid, exitSignal, stack, stackSize, tls, setTid, setTidSize, cgroup;
};
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#if defined(__x86_64__) || defined(__aarch64__)
#define MPTCP_HAVE_CLONE3 1
extern "C" long mptcp_clone3(CloneArgs* args, size_t size, int (*fn)(void*), void* arg);
#if defined(__x86_64__)
asm(".pushsection .text\n"
    ".globl mptcp_clone3\n"
    ".hidden mptcp_clone3\n"
    ".type mptcp_clone3,@function\n"
    "mptcp_clone3:\n"
    "  mov %rcx, %r8\n"  // arg: r8 and rdx survive the syscall
    "  mov $435, %eax\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jz 1f\n"
    "  ret\n"
    "1:\n"
    "  xor %ebp, %ebp\n"
    "  and $-16, %rsp\n"
    "  mov %r8, %rdi\n"
    "  call *%rdx\n"
    "  mov %rax, %rdi\n"
    "  mov $60, %eax\n"  // exit
    "  syscall\n"
    "  hlt\n"
    ".size mptcp_clone3, .-mptcp_clone3\n"
    ".popsection\n");
#else
asm(".pushsection .text\n"
    ".globl mptcp_clone3\n"
    ".hidden mptcp_clone3\n"
    ".type mptcp_clone3,%function\n"
    "mptcp_clone3:\n"
    "  mov x10, x2\n"  // fn, arg: x0 only changes across svc
    "  mov x11, x3\n"
    "  mov x8, #435\n"
    "  svc #0\n"
    "  cbz x0, 1f\n"
    "  ret\n"
    "1:\n"
    "  mov x29, #0\n"
    "  mov x30, #0\n"
    "  mov x0, x11\n"
    "  blr x10\n"
    "  mov x8, #93\n"  // exit
    "  svc #0\n"
    ".size mptcp_clone3, .-mptcp_clone3\n"
    ".popsection\n");
#endif
#endif

// Whether clone3 with CLONE_INTO_CGROUP works here (cleared at the first ENOSYS/E2BIG/EINVAL: an
// older kernel; the spawns then join their cgroup by writing cgroup.procs). Test-only:
// MPTCP_SPAWN_TEST_NO_CLONE3=1 (read at load) starts it cleared.
std::atomic<bool> g_clone3{[] {
  const char* v = getenv("MPTCP_SPAWN_TEST_NO_CLONE3");
  return v == nullptr || strcmp(v, "1") != 0;
}()};

// Serializes the clones of spawns that change the shared mm's coredump filter (see Run()).
std::shared_mutex& CoredumpLock() {
  static std::shared_mutex lock;
  return lock;
}

}  // namespace

// One spawn, parsed from JS on the main thread and owning every byte the child reads, so that it
// can be carried out on any thread (Run) while JS goes on.
// Parses spawn()'s arguments; false (with a TypeError pending) when they are malformed.
bool SpawnRequest::Parse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 10 || !info[0].IsString()) {
    Napi::TypeError::New(env, "spawn(file, argv, envp, cwd, fds, uid, gid, groups, setsid, pidEnv)")
        .ThrowAsJavaScriptException();
    return false;
  }
  file_ = info[0].As<Napi::String>().Utf8Value();
  std::vector<std::string> pidNames;
  if (!StringArray(env, info[1], "argv", &argv_) || !StringArray(env, info[2], "envp", &envp_)) return false;
  haveCwd_ = info[3].IsString();
  if (haveCwd_) cwd_ = info[3].As<Napi::String>().Utf8Value();
  if (!FdArray(env, info[4], &fds_)) return false;
  if (!IdValue(env, info[5], "uid", true, &setUid_, &uid_) || !IdValue(env, info[6], "gid", true, &setGid_, &gid_))
    return false;
  haveGroups_ = info[7].IsArray();
  if (haveGroups_) {
    Napi::Array arr = info[7].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); i++) {
      bool given;
      uint32_t g;
      if (!IdValue(env, arr.Get(i), "groups[]", false, &given, &g)) return false;
      groups_.push_back(static_cast<gid_t>(g));
    }
  }
  setsid_ = info[8].ToBoolean().Value();
  if (!StringArray(env, info[9], "pidEnv", &pidNames)) return false;
  if (info.Length() > 10 && !info[10].IsUndefined() && !info[10].IsNull() && !FdArray(env, info[10], &closeAfter_))
    return false;
  if (info.Length() > 11 && !info[11].IsUndefined() && !info[11].IsNull() && !ParseContext(env, info[11])) return false;
  if (file_.find('\0') != std::string::npos || cwd_.find('\0') != std::string::npos) {
    Napi::TypeError::New(env, "file and cwd must not contain NUL bytes").ThrowAsJavaScriptException();
    return false;
  }
  // PID slots: "NAME=" followed by room for the digits, filled in by the child.
  std::vector<size_t> slotOffsets;
  for (const auto& name : pidNames) {
    envp_.push_back(name + "=" + std::string(20, '\0'));
    slotOffsets.push_back(name.size() + 1);
  }
  argvp_ = Pointers(argv_);
  envpp_ = Pointers(envp_);
  for (size_t i = 0; i < pidNames.size(); i++)
    slots_.push_back(envpp_[envp_.size() - pidNames.size() + i] + slotOffsets[i]);
  scratch_.resize(fds_.size());
  return true;
}

// clone + exec, on the calling thread (suspended until the child has exec'd or failed). Returns
// 0 with pid/pidfd set, or an errno with the failing step's name (the syscall) in *step.
int SpawnRequest::Run(const char** step) {
  failedCapOption = nullptr;
  failedCapability = -1;
  SpawnArgs a{};
  a.file = file_.c_str();
  a.argv = argvp_.data();
  a.envp = envpp_.data();
  a.cwd = haveCwd_ ? cwd_.c_str() : nullptr;
  a.fds = fds_.data();
  a.scratch = scratch_.data();
  a.nfds = static_cast<int>(fds_.size());
  a.setUid = setUid_;
  a.setGid = setGid_;
  a.setIds = setUid_ || setGid_ || haveGroups_;
  a.uid = static_cast<uid_t>(uid_);
  a.gid = static_cast<gid_t>(gid_);
  a.groups = groups_.data();
  a.ngroups = groups_.size();
  a.setsid = setsid_;
  a.cgroupFd = cgroupFd_;
  a.pidSlots = slots_.data();
  a.npidSlots = static_cast<int>(slots_.size());
  a.ignoreSigpipe = ignoreSigpipe_;
  a.umask = umask_;
  a.rlimits = rlimits_.data();
  a.nrlimits = static_cast<int>(rlimits_.size());
  a.setNice = setNice_;
  a.nice = nice_;
  a.oomText = setOom_ ? oomText_.c_str() : nullptr;
  a.oomLen = static_cast<int>(oomText_.size());
  a.noNewPrivs = noNewPrivs_;
  std::vector<ChildMount> mounts;
  mounts.reserve(mounts_.size());
  for (const MountStep& m : mounts_)
    mounts.push_back(ChildMount{m.kind, m.path.c_str(), m.source.empty() ? nullptr : m.source.c_str(),
                                m.options.c_str(), m.flags, m.recursive, m.ignoreMissing, m.submount});
  const char* nodes[6];
  for (int i = 0; i < 6; i++) nodes[i] = inaccessible_[i].c_str();
  a.mounts = mounts.data();
  a.nmounts = static_cast<int>(mounts.size());
  a.inaccessible = nodes;
  a.setBounding = setBounding_;
  a.bounding = bounding_;
  a.setAmbient = setAmbient_;
  a.ambient = ambient_;
  a.coredumpText = setCoredump_ ? coredumpText_.c_str() : nullptr;
  a.coredumpLen = static_cast<int>(coredumpText_.size());
  a.setSched = setSched_;
  a.schedPolicy = schedPolicy_;
  a.schedPriority = schedPriority_;
  a.schedResetOnFork = schedResetOnFork_;
  a.affinity = affinity_.empty() ? nullptr : affinity_.data();
  a.affinityBytes = affinity_.size() * sizeof(unsigned long);
  a.setIoprio = setIoprio_;
  a.ioprio = ioprio_;
  a.setTimerSlack = setTimerSlack_;
  a.timerSlack = static_cast<unsigned long>(timerSlack_);
  a.setPersonality = setPersonality_;
  a.personality = personality_;
  a.err = 0;
  a.step = kNone;
  a.failedResource = -1;
  a.capOp = kCapOpNone;
  a.failedCap = -1;
  a.failedMount = -1;
  failedMountPath.clear();

  // One stack per thread, kept: CLONE_VFORK returns only once the child has exec'd or exited, so
  // the stack is free again for the next spawn on this thread (an munmap per spawn costs a TLB
  // shootdown on every thread of the process). At most one per thread that spawns: the main
  // thread (spawn) and the libuv pool threads (spawnAsync).
  static thread_local void* cachedStack = nullptr;
  if (cachedStack == nullptr) {
    void* s = mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (s == MAP_FAILED) {
      *step = "mmap";
      return errno;
    }
    cachedStack = s;
  }
  void* stack = cachedStack;
  // CoredumpFilter=: the child writes the filter of the memory it shares with the daemon until execve
  // (which gives the program a copy): the daemon's own is read first and put back once the child has
  // exec'd. Meanwhile no other spawn may clone (it would inherit the temporary filter): such spawns
  // hold the lock exclusively, the others shared.
  std::unique_lock<std::shared_mutex> exclusive(CoredumpLock(), std::defer_lock);
  std::shared_lock<std::shared_mutex> shared(CoredumpLock(), std::defer_lock);
  char savedFilter[24];
  long savedLen = -1;
  if (setCoredump_) {
    exclusive.lock();
    long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/coredump_filter", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      savedLen = syscall(SYS_read, static_cast<int>(fd), savedFilter, sizeof(savedFilter) - 1);
      syscall(SYS_close, static_cast<int>(fd));
    }
  } else {
    shared.lock();
  }
  // Block every signal in this thread, so that none runs a parent handler in the child before it
  // has reset the dispositions; restored once the child has exec'd or exited.
  unsigned long all = ~0UL, old = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof(all));
  int rawPidfd = -1, procsOpened = -1;
  int child = -1, cloneErr = 0;
  bool cloned = false;
#ifdef MPTCP_HAVE_CLONE3
  if (cgroupDirFd_ >= 0 && g_clone3.load(std::memory_order_relaxed)) {
    CloneArgs ca{};
    ca.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_INTO_CGROUP;
    ca.pidfd = reinterpret_cast<uint64_t>(&rawPidfd);
    ca.exitSignal = SIGCHLD;
    ca.stack = reinterpret_cast<uint64_t>(stack);
    ca.stackSize = kStackSize;
    ca.cgroup = static_cast<uint64_t>(cgroupDirFd_);
    long r = mptcp_clone3(&ca, sizeof ca, Child, &a);
    if (r == -ENOSYS || r == -E2BIG || r == -EINVAL) {
      g_clone3.store(false, std::memory_order_relaxed);
    } else {
      cloned = true;
      child = r < 0 ? -1 : static_cast<int>(r);
      cloneErr = r < 0 ? static_cast<int>(-r) : 0;
    }
  }
#endif
  if (!cloned) {
    // Without clone3 the child writes its cgroup.procs (opened here, closed below).
    if (cgroupDirFd_ >= 0 && a.cgroupFd < 0) {
      a.cgroupFd = openat(cgroupDirFd_, "cgroup.procs", O_WRONLY | O_CLOEXEC);
      if (a.cgroupFd < 0) {
        cloneErr = errno;
        if (exclusive.owns_lock()) exclusive.unlock();
        if (shared.owns_lock()) shared.unlock();
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, nullptr, sizeof(old));
        *step = "openat";  // before the clone: the caller's fds are still open
        return cloneErr;
      }
      procsOpened = a.cgroupFd;
    }
    child = clone(Child, static_cast<char*>(stack) + kStackSize, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &a,
                  &rawPidfd);
    cloneErr = errno;
  }
  if (procsOpened >= 0) close(procsOpened);
  if (savedLen > 0) {
    // The daemon's filter (hex text as read, e.g. "00000033\n") back; strtoul reads it as hex.
    savedFilter[savedLen] = '\0';
    char text[24];
    snprintf(text, sizeof(text), "0x%lx", strtoul(savedFilter, nullptr, 16));
    long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/coredump_filter", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      syscall(SYS_write, static_cast<int>(fd), text, strlen(text));
      syscall(SYS_close, static_cast<int>(fd));
    }
  }
  if (exclusive.owns_lock()) exclusive.unlock();
  if (shared.owns_lock()) shared.unlock();
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, nullptr, sizeof(old));
  if (child < 0) {
    *step = "clone";
    return cloneErr;
  }
  // The child has its copies (or failed and exited): the caller's go now, on this thread, so that
  // e.g. a connection's peer sees its end without waiting for the event loop.
  for (int fd : closeAfter_) close(fd);
  UniqueFd pidfd(rawPidfd);
  if (a.step != kNone) {
    // The child exited with 127 after writing the error: reap it now (it is gone or about to be).
    siginfo_t si;
    while (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd.get()), &si, WEXITED) < 0 && errno == EINTR) {
    }
    *step = a.step == kCapabilities && a.capOp == kCapOpCapset ? "capset" : kStepNames[a.step];
    failedResource = a.failedResource;
    if (a.step == kCapabilities) {
      failedCapOption = kCapOpNames[a.capOp];
      failedCapability = a.failedCap;
    }
    if (a.step == kTimerSlack) failedCapOption = "PR_SET_TIMERSLACK";
    if (a.failedMount >= 0 && (a.step == kMount || a.step == kMountSetattr || a.step == kStat))
      failedMountPath = mounts_[a.failedMount].path;
    return a.err;
  }
  pid = child;
  pidfdOut = pidfd.release();
  return 0;
}

// The exec context: { ignoreSigpipe, umask (absent: keep), rlimits: [resource, soft, hard, ...] (soft
// and hard BigInts, 2^64-1 = RLIM_INFINITY), nice, oomScoreAdjust (absent: keep), noNewPrivileges }.
bool SpawnRequest::ParseContext(Napi::Env env, Napi::Value v) {
  if (!v.IsObject()) {
    Napi::TypeError::New(env, "context must be an object").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Object o = v.As<Napi::Object>();
  ignoreSigpipe_ = o.Get("ignoreSigpipe").ToBoolean().Value();
  noNewPrivs_ = o.Get("noNewPrivileges").ToBoolean().Value();
  Napi::Value um = o.Get("umask");
  if (um.IsNumber()) {
    int m = um.As<Napi::Number>().Int32Value();
    if (m < 0 || m > 0777) return Bad(env, "context.umask must be 0…0777");
    umask_ = m;
  }
  Napi::Value ni = o.Get("nice");
  if (ni.IsNumber()) {
    int n = ni.As<Napi::Number>().Int32Value();
    if (n < -20 || n > 19) return Bad(env, "context.nice must be -20…19");
    setNice_ = true;
    nice_ = n;
  }
  Napi::Value oom = o.Get("oomScoreAdjust");
  if (oom.IsNumber()) {
    int n = oom.As<Napi::Number>().Int32Value();
    if (n < -1000 || n > 1000) return Bad(env, "context.oomScoreAdjust must be -1000…1000");
    setOom_ = true;
    oomText_ = std::to_string(n);
  }
  // PrivateTmp=: [tmp, varTmp], absolute directories (two bind steps).
  Napi::Value pt = o.Get("privateTmp");
  if (!pt.IsUndefined() && !pt.IsNull()) {
    std::vector<std::string> dirs;
    if (!StringArray(env, pt, "context.privateTmp", &dirs)) return false;
    if (dirs.size() != 2 || dirs[0].empty() || dirs[0][0] != '/' || dirs[1].empty() || dirs[1][0] != '/')
      return Bad(env, "context.privateTmp must be [tmp, varTmp], absolute paths");
    mounts_.push_back(MountStep{kMountBind, "/tmp", dirs[0], "", 0, true, false, false});
    mounts_.push_back(MountStep{kMountBind, "/var/tmp", dirs[1], "", 0, true, false, false});
  }
  Napi::Value ms = o.Get("mounts");
  if (!ms.IsUndefined() && !ms.IsNull() && !ParseMounts(env, ms, o.Get("inaccessibleDir"))) return false;
  // CapabilityBoundingSet= / AmbientCapabilities=: BigInt masks (bit n = capability n).
  Napi::Value bs = o.Get("capabilityBoundingSet");
  if (!bs.IsUndefined() && !bs.IsNull()) {
    bool lossless = true;
    if (!bs.IsBigInt()) return Bad(env, "context.capabilityBoundingSet must be a bigint");
    bounding_ = bs.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) return Bad(env, "context.capabilityBoundingSet must be 0..2^64-1");
    setBounding_ = true;
  }
  Napi::Value am = o.Get("ambientCapabilities");
  if (!am.IsUndefined() && !am.IsNull()) {
    bool lossless = true;
    if (!am.IsBigInt()) return Bad(env, "context.ambientCapabilities must be a bigint");
    ambient_ = am.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) return Bad(env, "context.ambientCapabilities must be 0..2^64-1");
    setAmbient_ = true;
  }
  // CoredumpFilter=: a BigInt mask, written as 0x… text.
  Napi::Value cf = o.Get("coredumpFilter");
  if (!cf.IsUndefined() && !cf.IsNull()) {
    bool lossless = true;
    if (!cf.IsBigInt()) return Bad(env, "context.coredumpFilter must be a bigint");
    uint64_t mask = cf.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) return Bad(env, "context.coredumpFilter must be 0..2^64-1");
    char buf[24];
    snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(mask));
    coredumpText_ = buf;
    setCoredump_ = true;
  }
  // CPUScheduling*=: [policy, priority, resetOnFork] for sched_setattr().
  Napi::Value cs = o.Get("cpuScheduling");
  if (!cs.IsUndefined() && !cs.IsNull()) {
    if (!cs.IsArray() || cs.As<Napi::Array>().Length() != 3)
      return Bad(env, "context.cpuScheduling must be [policy, priority, resetOnFork]");
    Napi::Array arr = cs.As<Napi::Array>();
    if (!arr.Get(0u).IsNumber() || !arr.Get(1u).IsNumber())
      return Bad(env, "context.cpuScheduling must be [policy, priority, resetOnFork]");
    schedPolicy_ = arr.Get(0u).As<Napi::Number>().Int32Value();
    schedPriority_ = arr.Get(1u).As<Napi::Number>().Int32Value();
    schedResetOnFork_ = arr.Get(2u).ToBoolean().Value();
    if (schedPolicy_ < 0 || schedPriority_ < 0 || schedPriority_ > 99)
      return Bad(env, "context.cpuScheduling: policy >= 0, priority 0…99");
    setSched_ = true;
  }
  // CPUAffinity=: the CPU numbers (0…8191) of the mask.
  Napi::Value ca = o.Get("cpuAffinity");
  if (!ca.IsUndefined() && !ca.IsNull()) {
    if (!ca.IsArray()) return Bad(env, "context.cpuAffinity must be an array of CPU numbers");
    Napi::Array arr = ca.As<Napi::Array>();
    constexpr unsigned kBits = 8 * sizeof(unsigned long);
    for (uint32_t i = 0; i < arr.Length(); i++) {
      Napi::Value e = arr.Get(i);
      int cpu = e.IsNumber() ? e.As<Napi::Number>().Int32Value() : -1;
      if (cpu < 0 || cpu > 8191) return Bad(env, "context.cpuAffinity must be CPU numbers 0…8191");
      size_t word = static_cast<unsigned>(cpu) / kBits;
      if (affinity_.size() <= word) affinity_.resize(word + 1, 0);
      affinity_[word] |= 1UL << (static_cast<unsigned>(cpu) % kBits);
    }
    // An empty set still makes the call (the kernel refuses it: EINVAL), as sched_setaffinity() would.
    if (affinity_.empty()) affinity_.push_back(0);
  }
  Napi::Value cg = o.Get("cgroupFd");
  if (cg.IsNumber()) {
    int fd = cg.As<Napi::Number>().Int32Value();
    if (fd < 0) return Bad(env, "context.cgroupFd must be an fd");
    cgroupFd_ = fd;
  }
  Napi::Value io = o.Get("ioprio");
  if (io.IsNumber()) {
    ioprio_ = io.As<Napi::Number>().Int32Value();
    setIoprio_ = true;
  }
  Napi::Value ts = o.Get("timerSlackNsec");
  if (!ts.IsUndefined() && !ts.IsNull()) {
    bool lossless = true;
    if (!ts.IsBigInt()) return Bad(env, "context.timerSlackNsec must be a bigint");
    timerSlack_ = ts.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) return Bad(env, "context.timerSlackNsec must be 0..2^64-1");
    setTimerSlack_ = true;
  }
  Napi::Value pe = o.Get("personality");
  if (pe.IsNumber()) {
    int64_t v = pe.As<Napi::Number>().Int64Value();
    if (v < 0 || v > 0xffffffffLL) return Bad(env, "context.personality must be 0…0xffffffff");
    personality_ = static_cast<unsigned long>(v);
    setPersonality_ = true;
  }
  Napi::Value rl = o.Get("rlimits");
  if (rl.IsArray()) {
    Napi::Array arr = rl.As<Napi::Array>();
    if (arr.Length() % 3 != 0) return Bad(env, "context.rlimits must be [resource, soft, hard, ...]");
    for (uint32_t i = 0; i < arr.Length(); i += 3) {
      Napi::Value r = arr.Get(i), c = arr.Get(i + 1), m = arr.Get(i + 2);
      if (!r.IsNumber() || !c.IsBigInt() || !m.IsBigInt())
        return Bad(env, "context.rlimits must be [resource number, soft bigint, hard bigint, ...]");
      bool lossless = true, lossless2 = true;
      uint64_t cur = c.As<Napi::BigInt>().Uint64Value(&lossless), max = m.As<Napi::BigInt>().Uint64Value(&lossless2);
      if (!lossless || !lossless2) return Bad(env, "context.rlimits values must be 0..2^64-1");
      rlimits_.push_back(RlimitEntry{r.As<Napi::Number>().Int32Value(), cur, max});
    }
  }
  return true;
}
bool SpawnRequest::ParseMounts(Napi::Env env, Napi::Value v, Napi::Value nodes) {
  if (!v.IsArray()) return Bad(env, "context.mounts must be an array");
  static const char* const kOps[] = {"umount", "mkdir",    "bind",   "inaccessible",
                                     "tmpfs",  "readonly", "noexec", "nosuid"};
  static const int kKinds[] = {kMountUmount, kMountMkdir,    kMountBind,   kMountInaccessible,
                               kMountTmpfs,  kMountReadOnly, kMountNoexec, kMountNosuid};
  Napi::Array arr = v.As<Napi::Array>();
  bool inaccessible = false;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value e = arr.Get(i);
    if (!e.IsObject()) return Bad(env, "context.mounts[] must be objects");
    Napi::Object m = e.As<Napi::Object>();
    Napi::Value op = m.Get("op"), path = m.Get("path"), source = m.Get("source"), options = m.Get("options");
    if (!op.IsString() || !path.IsString()) return Bad(env, "context.mounts[]: op and path must be strings");
    std::string name = op.As<Napi::String>().Utf8Value();
    int kind = 0;
    for (size_t k = 0; k < sizeof(kOps) / sizeof(kOps[0]); k++)
      if (name == kOps[k]) kind = kKinds[k];
    if (kind == 0)
      return Bad(env,
                 "context.mounts[].op must be umount, mkdir, bind, inaccessible, tmpfs, readonly, noexec or nosuid");
    MountStep step{kind, path.As<Napi::String>().Utf8Value(), "", "", 0, false, false, false};
    if (step.path.empty() || step.path[0] != '/' || step.path.find('\0') != std::string::npos)
      return Bad(env, "context.mounts[].path must be an absolute path");
    if (kind == kMountBind) {
      if (!source.IsString()) return Bad(env, "context.mounts[]: a bind needs a source");
      step.source = source.As<Napi::String>().Utf8Value();
      if (step.source.empty() || step.source[0] != '/' || step.source.find('\0') != std::string::npos)
        return Bad(env, "context.mounts[].source must be an absolute path");
    }
    if (kind == kMountTmpfs) {
      if (options.IsString()) step.options = options.As<Napi::String>().Utf8Value();
      Napi::Value fl = m.Get("flags");
      if (fl.IsNumber()) step.flags = static_cast<unsigned long>(fl.As<Napi::Number>().Int64Value());
    }
    if (kind == kMountInaccessible) inaccessible = true;
    step.recursive = m.Get("recursive").ToBoolean().Value();
    step.ignoreMissing = m.Get("ignoreMissing").ToBoolean().Value();
    step.submount = m.Get("submount").ToBoolean().Value();
    mounts_.push_back(std::move(step));
  }
  if (inaccessible) {
    if (!nodes.IsString()) return Bad(env, "context.inaccessibleDir must be a directory path");
    std::string dir = nodes.As<Napi::String>().Utf8Value();
    if (dir.empty() || dir[0] != '/' || dir.find('\0') != std::string::npos)
      return Bad(env, "context.inaccessibleDir must be an absolute path");
    static const char* const kNodes[] = {"reg", "dir", "chr", "blk", "fifo", "sock"};
    for (int i = 0; i < 6; i++) inaccessible_[i] = dir + "/" + kNodes[i];
  }
  return true;
}

bool SpawnRequest::Bad(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return false;
}

namespace {

Napi::Value SpawnResult(Napi::Env env, int err, const char* syscall, const SpawnRequest& req) {
  Napi::Object o = Napi::Object::New(env);
  if (err != 0) {
    o.Set("errno", -err);
    o.Set("syscall", syscall);
    if (req.failedResource >= 0) o.Set("resource", req.failedResource);
    if (req.failedCapOption != nullptr) o.Set("option", req.failedCapOption);
    if (req.failedCapability >= 0) o.Set("capability", req.failedCapability);
    if (!req.failedMountPath.empty()) o.Set("path", req.failedMountPath);
  } else {
    o.Set("pid", req.pid);
    o.Set("pidfd", req.pidfdOut);
  }
  return o;
}

// spawnAsync's worker: Run() on a libuv pool thread; the promise resolves with spawn()'s result.
class SpawnWorker : public Napi::AsyncWorker {
 public:
  SpawnWorker(Napi::Env env, std::unique_ptr<SpawnRequest> req)
      : Napi::AsyncWorker(env, "MptcpSpawn"), req_(std::move(req)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override { err_ = req_->Run(&syscall_); }
  void OnOK() override {
    // A worker ending meanwhile: nothing can take the child's pidfd; close it rather than leak it.
    if (!CanRunJs(Env())) {
      if (err_ == 0 && req_->pidfdOut >= 0) close(req_->pidfdOut);
      return;
    }
    Napi::HandleScope scope(Env());
    deferred_.Resolve(SpawnResult(Env(), err_, syscall_, *req_));
  }

 private:
  std::unique_ptr<SpawnRequest> req_;
  Napi::Promise::Deferred deferred_;
  int err_ = 0;
  const char* syscall_ = "";
};

}  // namespace

// spawn(file, argv, envp, cwd | null, fds, uid | -1, gid | -1, groups | null, setsid, pidEnv,
//       closeAfter?, context?) → { pid, pidfd } | { errno: -errno, syscall, resource? }.
// `file` is executed as given (an absolute path; PATH lookup is the caller's). Child fd i is
// parent fd fds[i] (-1: /dev/null); nothing else is inherited (every fd the addon and Node open is
// CLOEXEC). uid/gid (0…4294967294; -1: unchanged) switch credentials after setgroups(groups ?? []);
// every requested change that fails fails the spawn. pidEnv: variable names appended to envp whose
// value is the child's own PID, computed in the child. The calling (main) thread waits until the
// child has exec'd: use spawnAsync to keep the event loop running. closeAfter: fds closed by the
// addon as soon as clone() returned a child (exec'd or failed in a later step); left open when the
// spawn fails before that (syscall "mmap", "openat" or "clone").
static Napi::Value Spawn(const Napi::CallbackInfo& info) {
  SpawnRequest req;
  if (!req.Parse(info)) return info.Env().Undefined();
  const char* syscall = "";
  int err = req.Run(&syscall);
  return SpawnResult(info.Env(), err, syscall, req);
}

// spawnAsync(same arguments) → Promise<{ pid, pidfd } | { errno: -errno, syscall }>: the
// clone/exec runs on a libuv pool thread. The fds in `fds` must stay open until it settles.
static Napi::Value SpawnAsync(const Napi::CallbackInfo& info) {
  auto req = std::make_unique<SpawnRequest>();
  if (!req->Parse(info)) return info.Env().Undefined();
  auto* worker = new SpawnWorker(info.Env(), std::move(req));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// pidfdWait(pidfd) → { pid, code, signal } once exited (reaped) | null while running | -errno.
// code is the exit status (or -1), signal the terminating signal number (or 0).
static Napi::Value PidfdWait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pidfd;
  if (!ArgInt(info, 0, &pidfd)) return env.Undefined();
  siginfo_t si{};
  int r;
  do {
    r = waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si, WEXITED | WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return errno == EAGAIN ? env.Null() : Errno(env, errno);
  if (si.si_pid == 0) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", si.si_pid);
  bool exited = si.si_code == CLD_EXITED;
  o.Set("code", exited ? si.si_status : -1);
  o.Set("signal", exited ? 0 : si.si_status);
  return o;
}

// pidfdSendSignal(pidfd, signal) → 0 | -errno (ESRCH once the process has exited).
static Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  int pidfd, sig;
  if (!ArgInt(info, 0, &pidfd) || !ArgInt(info, 1, &sig)) return info.Env().Undefined();
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) < 0) return Errno(info.Env(), errno);
  return Napi::Number::New(info.Env(), 0);
}

void InitSpawn(Napi::Env env, Napi::Object exports) {
  // The context keys capabilityBoundingSet/ambientCapabilities are applied (an older addon ignores them).
  exports.Set("spawnCapabilities", Napi::Boolean::New(env, true));
  // The context key privateTmp is applied (likewise).
  exports.Set("spawnPrivateTmp", Napi::Boolean::New(env, true));
  exports.Set("spawnCgroup", Napi::Boolean::New(env, true));
  // The context keys mounts/inaccessibleDir are applied (likewise).
  exports.Set("spawnMounts", Napi::Boolean::New(env, true));
  // The context keys coredumpFilter/cpuScheduling/cpuAffinity/ioprio/timerSlackNsec/personality are applied.
  exports.Set("spawnScheduling", Napi::Boolean::New(env, true));
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
  exports.Set("spawnAsync", Napi::Function::New(env, SpawnAsync, "spawnAsync"));
  exports.Set("pidfdWait", Napi::Function::New(env, PidfdWait, "pidfdWait"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
}

}  // namespace mptcp_native
