/** Is MPTCP usable here? One probe socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP), cached. */
import { IPPROTO_MPTCP } from '@mptcp/constants';
import { binding, sysconst } from './binding.js';
import { errnoName } from './errors.js';
import { fallbackReason, nodeMptcp } from './policy.js';
import type { MptcpSupport } from './types.js';

let probed: MptcpSupport | undefined;

function probe(): MptcpSupport {
  let native;
  try {
    native = binding();
  } catch {
    return { available: false, reason: 'addon-unavailable' };
  }
  const fd = native.socket(sysconst('AF_INET'), sysconst('SOCK_STREAM'), IPPROTO_MPTCP);
  if (fd >= 0) {
    native.close(fd);
    return { available: true };
  }
  const code = errnoName(-fd);
  return { available: false, reason: fallbackReason(code) ?? 'blocked', code, errno: -fd };
}

/**
 * Whether MPTCP sockets can be created in this process's network namespace. The kernel probe runs
 * once and is cached (`refresh: true` probes again); NODE_MPTCP=0 is checked on every call and
 * reported as 'disabled-by-env'.
 */
export function mptcpSupport(options: { refresh?: boolean } = {}): MptcpSupport {
  if (nodeMptcp() === '0') return { available: false, reason: 'disabled-by-env' };
  if (options.refresh || probed === undefined) probed = probe();
  return { ...probed };
}
