/**
 * MPTCP policy as data: which mode a listener or dialer gets (NODE_MPTCP and defaults), and on
 * which errors 'prefer' falls back to plain TCP.
 *
 * NODE_MPTCP (like Go's GODEBUG=multipathtcp):
 * - unset or `2`: listeners default to 'prefer', dialers to false (the default, as Go ≥ 1.24);
 * - `1`: listeners and dialers default to 'prefer';
 * - `3`: dialers default to 'prefer', listeners to false;
 * - `0`: MPTCP off everywhere — the default and an explicit 'prefer' both become plain TCP, and an
 *   explicit 'require' fails with code MPTCP_DISABLED_BY_ENV.
 * Values 1–3 only change defaults: an explicit `mptcp` option always wins. Any other value is
 * ignored (with one process warning) and behaves as `2`.
 */
import { mptcpUnavailableReason, type MptcpUnavailableReason } from '@mptcp/constants';
import { MptcpSocketError } from './errors.js';
import type { MptcpMode } from './types.js';

export type Role = 'listener' | 'dialer';

export type NodeMptcpValue = '0' | '1' | '2' | '3';

/** Defaults per NODE_MPTCP value: [listener, dialer]. */
export const NODE_MPTCP_DEFAULTS: Readonly<Record<NodeMptcpValue, readonly [MptcpMode, MptcpMode]>> = Object.freeze({
  '0': [false, false],
  '1': ['prefer', 'prefer'],
  '2': ['prefer', false],
  '3': [false, 'prefer'],
});

let warnedValue: string | undefined;

/** The effective NODE_MPTCP value (read on every call, so tests and programs can change it). */
export function nodeMptcp(env: NodeJS.ProcessEnv = process.env): NodeMptcpValue {
  const raw = env['NODE_MPTCP'];
  if (raw === undefined || raw === '') return '2';
  const v = raw.trim();
  if (v === '0' || v === '1' || v === '2' || v === '3') return v;
  if (warnedValue !== raw) {
    warnedValue = raw;
    process.emitWarning(`NODE_MPTCP=${raw} is not one of 0, 1, 2, 3; using 2 (MPTCP on listeners only)`, 'MptcpWarning');
  }
  return '2';
}

/** The mode a socket is created with, or the error when the environment forbids the request. */
export function effectiveMode(role: Role, requested: MptcpMode | undefined, env: NodeJS.ProcessEnv = process.env): MptcpMode {
  const setting = nodeMptcp(env);
  if (setting === '0') {
    if (requested === 'require') {
      throw new MptcpSocketError({
        code: 'MPTCP_DISABLED_BY_ENV',
        message: "MPTCP is required (mptcp: 'require') but disabled by NODE_MPTCP=0 (unset it, or allow plain TCP with mptcp: 'prefer')",
      });
    }
    return false;
  }
  if (requested !== undefined) return requested;
  const [listener, dialer] = NODE_MPTCP_DEFAULTS[setting];
  return role === 'listener' ? listener : dialer;
}

/**
 * The socket() errno names on which 'prefer' retries with plain TCP: exactly the "this host has
 * no usable MPTCP" errors (ENOPROTOOPT, EPROTONOSUPPORT, EINVAL). Unlike Go, a failed connect()
 * is never retried over TCP: a refused or unreachable peer is refused over TCP too, and a silent
 * second attempt doubles the time to report the error.
 */
export function fallbackReason(code: string): MptcpUnavailableReason | undefined {
  return mptcpUnavailableReason(code);
}
