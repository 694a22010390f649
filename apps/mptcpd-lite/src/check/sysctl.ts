/** Reads /proc/sys/net/mptcp/* of the current network namespace. */
import { readFileSync } from 'node:fs';

export const MPTCP_SYSCTL_DIR = '/proc/sys/net/mptcp';

/** The trimmed value, or undefined when the file does not exist on this kernel. */
export function readSysctl(name: string, dir = MPTCP_SYSCTL_DIR): string | undefined {
  try {
    return readFileSync(`${dir}/${name}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
