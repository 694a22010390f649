// CapabilityBoundingSet= and AmbientCapabilities= in the spawn child (addon_spawn.cc), as systemd 257's
// exec_invoke() applies them: capability_bounding_set_drop() before the user switch,
// capability_ambient_set_apply() before it (raising the inheritable set too) and again after it
// (setresuid() clears the ambient set), with PR_SET_KEEPCAPS across the switch to a non-root user.
// They run in a CLONE_VM|CLONE_VFORK child: raw syscalls only, no allocation, no libcap.
#pragma once

#include <stdint.h>

namespace mptcp_native {

// Which operation of a capability step failed (reported to JS as `option`).
enum CapOp : int {
  kCapOpNone = 0,
  kCapOpBsetDrop,
  kCapOpCapset,
  kCapOpAmbientRaise,
  kCapOpAmbientLower,
  kCapOpKeepCaps
};
extern const char* const kCapOpNames[];

// Drops every capability not in `keep` from the bounding set (PR_CAPBSET_DROP), with CAP_SETPCAP
// raised in the effective set meanwhile if permitted; one the set does not hold is skipped. 0 or an
// errno, with the capability in *failedCap and the operation in *op.
int ChildDropBoundingSet(uint64_t keep, int* failedCap, int* op);

// Raises `set` in the ambient set (capabilities outside the bounding set are left out, as systemd
// does) and lowers every other ambient capability; with alsoInherit, `set` is added to the
// inheritable set first (ambient capabilities must be permitted and inheritable). 0 or an errno.
int ChildApplyAmbient(uint64_t set, bool alsoInherit, int* failedCap, int* op);

// PR_SET_KEEPCAPS: the permitted set survives setresuid() away from root. 0 or an errno.
int ChildKeepCaps(int* op);

}  // namespace mptcp_native
