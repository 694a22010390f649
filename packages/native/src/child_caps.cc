// See child_caps.h. Every function runs in the vfork child of addon_spawn.cc: raw syscalls on the
// stack only.
#include "child_caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_LOWER 3
#endif

namespace mptcp_native {

const char* const kCapOpNames[] = {
    "", "PR_CAPBSET_DROP", "capset", "PR_CAP_AMBIENT_RAISE", "PR_CAP_AMBIENT_LOWER", "PR_SET_KEEPCAPS"};

namespace {

struct Caps {
  __user_cap_header_struct header;
  __user_cap_data_struct data[2];
};

int Get(Caps* c) {
  c->header.version = _LINUX_CAPABILITY_VERSION_3;
  c->header.pid = 0;
  if (syscall(SYS_capget, &c->header, c->data) < 0) return errno;
  return 0;
}

int Set(Caps* c) {
  c->header.version = _LINUX_CAPABILITY_VERSION_3;
  c->header.pid = 0;
  if (syscall(SYS_capset, &c->header, c->data) < 0) return errno;
  return 0;
}

bool Has(const uint32_t (&words)[2], int cap) { return (words[cap / 32] >> (cap % 32)) & 1U; }

// The highest capability the kernel knows (cap_last_cap()): PR_CAPBSET_READ fails with EINVAL above it.
int LastCap() {
  int last = 0;
  while (last < 63 && syscall(SYS_prctl, PR_CAPBSET_READ, static_cast<unsigned long>(last + 1), 0UL, 0UL, 0UL) >= 0)
    last++;
  return last;
}

bool InSet(uint64_t set, int cap) { return (set >> cap) & 1U; }

}  // namespace

int ChildDropBoundingSet(uint64_t keep, int* failedCap, int* op) {
  int last = LastCap();
  bool any = false;
  for (int i = 0; i <= last; i++)
    if (!InSet(keep, i) && syscall(SYS_prctl, PR_CAPBSET_READ, static_cast<unsigned long>(i), 0UL, 0UL, 0UL) == 1)
      any = true;
  if (!any) return 0;  // cap_test_all(): nothing to drop
  // capability_gain_cap_setpcap(): dropping needs CAP_SETPCAP in the effective set.
  Caps before{};
  *op = kCapOpCapset;
  int err = Get(&before);
  if (err != 0) return err;
  const int setpcap = CAP_SETPCAP;
  bool raised = false;
  uint32_t eff[2] = {before.data[0].effective, before.data[1].effective};
  uint32_t perm[2] = {before.data[0].permitted, before.data[1].permitted};
  if (!Has(eff, setpcap) && Has(perm, setpcap)) {
    Caps with = before;
    with.data[setpcap / 32].effective |= 1U << (setpcap % 32);
    err = Set(&with);
    if (err != 0) return err;
    raised = true;
  }
  *op = kCapOpBsetDrop;
  for (int i = 0; i <= last; i++) {
    if (InSet(keep, i)) continue;
    if (syscall(SYS_prctl, PR_CAPBSET_DROP, static_cast<unsigned long>(i), 0UL, 0UL, 0UL) < 0) {
      err = errno;
      // Not in the set in the first place: no harm done (systemd's check).
      if (err == EPERM && syscall(SYS_prctl, PR_CAPBSET_READ, static_cast<unsigned long>(i), 0UL, 0UL, 0UL) == 0)
        continue;
      *failedCap = i;
      return err;
    }
  }
  if (raised) {
    *op = kCapOpCapset;
    err = Set(&before);
    if (err != 0) return err;
  }
  *op = kCapOpNone;
  return 0;
}

int ChildApplyAmbient(uint64_t set, bool alsoInherit, int* failedCap, int* op) {
  int last = LastCap();
  // Requested but not in the bounding set: suppressed, as systemd does (it logs this at debug level).
  for (int i = 0; i <= last; i++)
    if (InSet(set, i) && syscall(SYS_prctl, PR_CAPBSET_READ, static_cast<unsigned long>(i), 0UL, 0UL, 0UL) != 1)
      set &= ~(uint64_t{1} << i);
  if (alsoInherit && set != 0) {
    Caps c{};
    *op = kCapOpCapset;
    int err = Get(&c);
    if (err != 0) return err;
    c.data[0].inheritable |= static_cast<uint32_t>(set);
    c.data[1].inheritable |= static_cast<uint32_t>(set >> 32);
    err = Set(&c);
    if (err != 0) return err;
  }
  for (int i = 0; i <= last; i++) {
    if (InSet(set, i)) {
      if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, static_cast<unsigned long>(i), 0UL, 0UL) < 0) {
        *op = kCapOpAmbientRaise;
        *failedCap = i;
        return errno;
      }
      continue;
    }
    long is = syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, static_cast<unsigned long>(i), 0UL, 0UL);
    if (is == 1 &&
        syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, static_cast<unsigned long>(i), 0UL, 0UL) < 0) {
      *op = kCapOpAmbientLower;
      *failedCap = i;
      return errno;
    }
  }
  *op = kCapOpNone;
  return 0;
}

int ChildKeepCaps(int* op) {
  if (syscall(SYS_prctl, PR_SET_KEEPCAPS, 1UL, 0UL, 0UL, 0UL) < 0) {
    *op = kCapOpKeepCaps;
    return errno;
  }
  return 0;
}

}  // namespace mptcp_native
