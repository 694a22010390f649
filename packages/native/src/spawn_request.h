// One spawn as the addon carries it out (addon_spawn.cc): parsed from JS once, owning every byte
// the vfork child reads, runnable on any thread. addon_accept.cc keeps one per Accept=yes template
// and changes only the per-connection parts (environment entries, the connection fd) before Run().
#pragma once

#include <napi.h>
#include <stdint.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace mptcp_native {

// One step of the mount namespace the child sets up (the caller's plan, in order): kind, target path,
// source (bind), options and flags (tmpfs), what it may skip.
enum MountKind : int {
  kMountUmount = 1,
  kMountMkdir,
  kMountBind,
  kMountInaccessible,
  kMountTmpfs,
  kMountReadOnly,
  kMountNoexec,
  kMountNosuid
};
struct MountStep {
  int kind;
  std::string path, source, options;
  unsigned long flags;
  bool recursive;
  bool ignoreMissing;  // ENOENT skips the step
  bool submount;       // a mount found under a read-only path: ENOENT or EINVAL (gone, no longer a mount) skips it
};

// One setrlimit() the child applies: resource, soft, hard (RLIM_INFINITY for "infinity").
struct RlimitEntry {
  int resource;
  uint64_t cur;
  uint64_t max;
};

class SpawnRequest {
 public:
  // Parses spawn()'s arguments; false (with a TypeError pending) when they are malformed.
  bool Parse(const Napi::CallbackInfo& info);
  // clone + exec, on the calling thread (suspended until the child has exec'd or failed). Returns
  // 0 with pid/pidfd set, or an errno with the failing step's name (the syscall) in *step.
  int Run(const char** step);

  // The per-connection parts (addon_accept.cc). Environment entry i becomes `text` (NAME=value).
  void SetEnvEntry(size_t i, std::string text) {
    envp_[i] = std::move(text);
    envpp_[i] = &envp_[i][0];
  }
  const std::vector<std::string>& Envp() const { return envp_; }
  // A copy owning its own strings (the pointer arrays point into them), for another thread.
  std::unique_ptr<SpawnRequest> Clone() const {
    auto c = std::make_unique<SpawnRequest>(*this);
    for (size_t i = 0; i < c->argv_.size(); i++) c->argvp_[i] = &c->argv_[i][0];
    for (size_t i = 0; i < c->envp_.size(); i++) c->envpp_[i] = &c->envp_[i][0];
    size_t n = slots_.size();
    for (size_t i = 0; i < n; i++) {
      size_t idx = envp_.size() - n + i;
      c->slots_[i] = c->envpp_[idx] + (slots_[i] - envpp_[idx]);
    }
    return c;
  }
  // The cgroup (a directory fd) the next Run()'s child starts in: clone3 CLONE_INTO_CGROUP, else it
  // writes its cgroup.procs before anything else; -1: context.cgroupFd's, or none. The fd stays the caller's.
  void SetCgroupDir(int dirFd) { cgroupDirFd_ = dirFd; }
  std::vector<int>& Fds() { return fds_; }
  std::vector<int>& CloseAfter() { return closeAfter_; }

  int pid = -1;
  int pidfdOut = -1;
  int failedResource = -1;
  // A failed capability step: its operation (PR_CAPBSET_DROP, capset, …) and capability (-1: none); a
  // failed PR_SET_TIMERSLACK names its operation here too.
  const char* failedCapOption = nullptr;
  int failedCapability = -1;
  // A failed mount step: its target path (empty: none).
  std::string failedMountPath;

 private:
  // The exec context: { ignoreSigpipe, umask (absent: keep), rlimits: [resource, soft, hard, ...] (soft
  // and hard BigInts, 2^64-1 = RLIM_INFINITY), nice, oomScoreAdjust (absent: keep), noNewPrivileges }.
  bool ParseContext(Napi::Env env, Napi::Value v);
  // context.mounts: [{ op, path, source?, options?, flags?, recursive?, ignoreMissing?, submount? }, ...].
  bool ParseMounts(Napi::Env env, Napi::Value v, Napi::Value nodes);
  static bool Bad(Napi::Env env, const char* message);

  bool ignoreSigpipe_ = false, noNewPrivs_ = false, setNice_ = false, setOom_ = false;
  bool setBounding_ = false, setAmbient_ = false;
  // CoredumpFilter=, CPUScheduling*=, CPUAffinity=, IOScheduling*=, TimerSlackNSec=, Personality= (resolved by
  // the caller; the child only makes the syscalls).
  bool setCoredump_ = false, setSched_ = false, schedResetOnFork_ = false, setIoprio_ = false;
  bool setTimerSlack_ = false, setPersonality_ = false;
  std::string coredumpText_;
  int schedPolicy_ = 0, schedPriority_ = 0, ioprio_ = 0;
  std::vector<unsigned long> affinity_;  // the CPU mask (bit n = CPU n); empty: leave it
  uint64_t timerSlack_ = 0;
  unsigned long personality_ = 0;
  std::vector<MountStep> mounts_;  // the mount namespace's steps (PrivateTmp=, ProtectSystem=, …)
  std::string inaccessible_[6];    // reg, dir, chr, blk, fifo, sock nodes (InaccessiblePaths=)
  uint64_t bounding_ = 0, ambient_ = 0;
  int umask_ = -1, nice_ = 0;
  int cgroupFd_ = -1;     // context.cgroupFd: the cgroup.procs the child joins (-1: none)
  int cgroupDirFd_ = -1;  // SetCgroupDir()
  std::string oomText_;
  std::vector<RlimitEntry> rlimits_;

  std::string file_, cwd_;
  bool haveCwd_ = false;
  std::vector<std::string> argv_, envp_;
  std::vector<char*> argvp_, envpp_, slots_;
  std::vector<int> fds_, scratch_, closeAfter_;
  bool setUid_ = false, setGid_ = false, haveGroups_ = false, setsid_ = false;
  uint32_t uid_ = 0, gid_ = 0;
  std::vector<gid_t> groups_;
};

}  // namespace mptcp_native
