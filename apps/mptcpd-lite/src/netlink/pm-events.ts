/**
 * mptcp_pm multicast events (enum mptcp_event_type / mptcp_event_attr in linux/mptcp_pm.h), decoded
 * into plain objects and printed as `ip mptcp monitor` prints them.
 */
import { decodeGenl } from './genl.js';
import { decodeMessages, readS32, readU16, readU32, readU8 } from './message.js';
import { ipv4FromBE, ipv6FromBytes } from './mptcp-pm.js';

/** Event type → name (the names `ip mptcp monitor` prints, lower case). */
export const MPTCP_EVENT_NAMES: Readonly<Record<number, string>> = {
  1: 'created',
  2: 'established',
  3: 'closed',
  6: 'announced',
  7: 'removed',
  10: 'sub_established',
  11: 'sub_closed',
  13: 'sub_priority',
  15: 'listener_created',
  16: 'listener_closed',
};

const A = {
  TOKEN: 1,
  FAMILY: 2,
  LOC_ID: 3,
  REM_ID: 4,
  SADDR4: 5,
  SADDR6: 6,
  DADDR4: 7,
  DADDR6: 8,
  SPORT: 9,
  DPORT: 10,
  BACKUP: 11,
  ERROR: 12,
  FLAGS: 13,
  TIMEOUT: 14,
  IF_IDX: 15,
  RESET_REASON: 16,
  RESET_FLAGS: 17,
  SERVER_SIDE: 18,
} as const;

export interface MptcpEvent {
  event: string;
  /** Connection token (hex, as ip mptcp monitor prints it); absent for listener events. */
  token?: string;
  family?: 'inet' | 'inet6';
  localId?: number;
  remoteId?: number;
  saddr?: string;
  daddr?: string;
  sport?: number;
  dport?: number;
  backup?: boolean;
  error?: number;
  ifindex?: number;
  serverSide?: boolean;
  timeout?: number;
  resetReason?: number;
  resetFlags?: number;
}

/** Decodes every event of one datagram from the mptcp_pm_events group. */
export function decodePmEvents(datagram: Buffer): MptcpEvent[] {
  const out: MptcpEvent[] = [];
  for (const m of decodeMessages([datagram], 'mptcp_pm event')) {
    const g = decodeGenl(m);
    const a = g.attrs;
    const e: MptcpEvent = { event: MPTCP_EVENT_NAMES[g.cmd] ?? `event-${g.cmd}` };
    const token = readU32(a.get(A.TOKEN));
    if (token !== undefined) e.token = token.toString(16).padStart(8, '0');
    const fam = readU16(a.get(A.FAMILY));
    if (fam === 2 || fam === 10) e.family = fam === 2 ? 'inet' : 'inet6';
    const u8 = (k: number): number | undefined => readU8(a.get(k));
    const set = <K extends keyof MptcpEvent>(k: K, v: MptcpEvent[K] | undefined): void => {
      if (v !== undefined) e[k] = v;
    };
    set('localId', u8(A.LOC_ID));
    set('remoteId', u8(A.REM_ID));
    const s4 = a.get(A.SADDR4);
    const s6 = a.get(A.SADDR6);
    const d4 = a.get(A.DADDR4);
    const d6 = a.get(A.DADDR6);
    if (s4 && s4.length >= 4) e.saddr = ipv4FromBE(s4);
    else if (s6 && s6.length >= 16) e.saddr = ipv6FromBytes(s6);
    if (d4 && d4.length >= 4) e.daddr = ipv4FromBE(d4);
    else if (d6 && d6.length >= 16) e.daddr = ipv6FromBytes(d6);
    // Ports are network order (__be16).
    const sp = a.get(A.SPORT);
    const dp = a.get(A.DPORT);
    if (sp && sp.length >= 2) e.sport = sp.readUInt16BE(0);
    if (dp && dp.length >= 2) e.dport = dp.readUInt16BE(0);
    const backup = u8(A.BACKUP);
    if (backup !== undefined) e.backup = backup !== 0;
    set('error', u8(A.ERROR));
    const ifindex = readS32(a.get(A.IF_IDX));
    if (ifindex !== undefined && ifindex > 0) e.ifindex = ifindex;
    const server = u8(A.SERVER_SIDE);
    if (server !== undefined) e.serverSide = server !== 0;
    set('timeout', readU32(a.get(A.TIMEOUT)));
    set('resetReason', readU32(a.get(A.RESET_REASON)));
    set('resetFlags', readU32(a.get(A.RESET_FLAGS)));
    out.push(e);
  }
  return out;
}

/** One line in the style of `ip mptcp monitor`: `[     SF_ESTABLISHED] token=… remid=1 locid=0 …`. */
export function formatPmEvent(e: MptcpEvent): string {
  const label = e.event.toUpperCase().replace(/^SUB_/, 'SF_');
  const parts: string[] = [];
  if (e.token) parts.push(`token=${e.token}`);
  if (e.remoteId !== undefined) parts.push(`remid=${e.remoteId}`);
  if (e.localId !== undefined) parts.push(`locid=${e.localId}`);
  if (e.saddr) parts.push(`saddr=${e.saddr}`);
  if (e.daddr) parts.push(`daddr=${e.daddr}`);
  if (e.sport !== undefined) parts.push(`sport=${e.sport}`);
  if (e.dport !== undefined) parts.push(`dport=${e.dport}`);
  if (e.backup !== undefined) parts.push(`backup=${e.backup ? 1 : 0}`);
  if (e.ifindex !== undefined) parts.push(`ifindex=${e.ifindex}`);
  if (e.error !== undefined) parts.push(`error=${e.error}`);
  if (e.serverSide) parts.push('server_side');
  return `[${label.padStart(18)}] ${parts.join(' ')}`;
}
