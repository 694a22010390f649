/**
 * Is another program managing MPTCP endpoints in this network namespace? Two managers fighting over
 * `mptcp_pm` endpoints delete each other's work, so `run --endpoints auto` refuses to start next to
 * one: mptcpd (the kernel project's path-manager daemon), NetworkManager (which adds endpoints for
 * its addresses unless connection.mptcp-flags=disabled) or the userspace path manager being selected.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readSysctl } from '../check/sysctl.js';

/** Process names (comm) that manage endpoints, and what to tell the operator about each. */
const MANAGERS: Readonly<Record<string, string>> = {
  mptcpd:
    'mptcpd is running in this network namespace and manages the MPTCP endpoints (stop it, or run mptcpd-lite without --endpoints auto)',
  NetworkManager:
    'NetworkManager is running in this network namespace and manages MPTCP endpoints for its connections (disable that with `nmcli connection modify ID connection.mptcp-flags disabled` and add --endpoints-ignore NetworkManager, or leave endpoints to NetworkManager)',
};

export interface OtherManager {
  name: string;
  pid?: number;
  message: string;
}

function netnsOf(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/** The first other endpoint manager found, or undefined. `ignore` lists comm names not to count. */
export function findOtherManager(ignore: readonly string[] = [], procDir = '/proc'): OtherManager | undefined {
  const pm = readSysctl('path_manager') ?? (readSysctl('pm_type') === '1' ? 'userspace' : undefined);
  if (pm === 'userspace')
    return {
      name: 'userspace path manager',
      message:
        'net.mptcp.path_manager is "userspace": subflows are created by a userspace daemon, which ignores endpoints (set it to "kernel" to use --endpoints auto)',
    };
  const mine = netnsOf('self');
  let pids: string[];
  try {
    pids = readdirSync(procDir).filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  for (const p of pids) {
    const pid = Number(p);
    if (pid === process.pid) continue;
    let comm: string;
    try {
      comm = readFileSync(`${procDir}/${p}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const message = MANAGERS[comm];
    if (!message || ignore.includes(comm)) continue;
    // A manager in another namespace manages other endpoints (each netns has its own mptcp_pm state).
    if (netnsOf(pid) !== mine) continue;
    return { name: comm, pid, message: `${message} [pid ${pid}]` };
  }
  return undefined;
}
