/** Writing unit directories for the daemon benchmarks. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AcceptSocketSpec {
  name: string;
  listen: string;
  exec: string;
  maxConnections?: number;
  maxConnectionsPerSource?: number;
  /** SocketProtocol=mptcp */
  mptcp?: boolean;
  /** Extra [Socket] lines. */
  socket?: string[];
  /** Extra [Service] lines. */
  service?: string[];
}

/** An Accept=yes socket with a `NAME@.service` template whose stdin/stdout is the connection. */
export function writeAcceptUnit(dir: string, s: AcceptSocketSpec): void {
  mkdirSync(dir, { recursive: true });
  const sock = ['[Socket]', `ListenStream=${s.listen}`, 'Accept=yes', `MaxConnections=${s.maxConnections ?? 1024}`];
  if (s.maxConnectionsPerSource !== undefined) sock.push(`MaxConnectionsPerSource=${s.maxConnectionsPerSource}`);
  if (s.mptcp) sock.push('SocketProtocol=mptcp');
  // systemd-socket-activate has no trigger limit and no poll limit; the defaults (200 triggers per
  // 2 s, 150 wake-ups per 2 s: a pause of the rest of the 2 s, i.e. at most 75 connections/s with
  // one client) would stop or throttle the socket within a second of load, so the comparison turns
  // them off.
  sock.push('TriggerLimitIntervalSec=0', 'PollLimitIntervalSec=0', ...(s.socket ?? []));
  writeFileSync(join(dir, `${s.name}.socket`), `${sock.join('\n')}\n`);
  const svc = [
    '[Service]',
    `ExecStart=${s.exec}`,
    'StandardInput=socket',
    'StandardOutput=socket',
    ...(s.service ?? []),
  ];
  writeFileSync(join(dir, `${s.name}@.service`), `${svc.join('\n')}\n`);
}

export interface ListenSocketSpec {
  name: string;
  listen: string[];
  exec: string;
  mptcp?: boolean;
  socket?: string[];
  service?: string[];
  /** [Unit] lines of the service (StartLimit*=…). */
  unit?: string[];
}

/** An Accept=no socket and its service, which receives the listening fd(s). */
export function writeListenUnit(dir: string, s: ListenSocketSpec): void {
  mkdirSync(dir, { recursive: true });
  const sock = ['[Socket]', ...s.listen.map((l) => `ListenStream=${l}`)];
  if (s.mptcp) sock.push('SocketProtocol=mptcp');
  sock.push(...(s.socket ?? []));
  writeFileSync(join(dir, `${s.name}.socket`), `${sock.join('\n')}\n`);
  const svc = [
    ...(s.unit?.length ? ['[Unit]', ...s.unit] : []),
    '[Service]',
    `ExecStart=${s.exec}`,
    ...(s.service ?? []),
  ];
  writeFileSync(join(dir, `${s.name}.service`), `${svc.join('\n')}\n`);
}
