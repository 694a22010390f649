/**
 * systemd-socket-activate's behaviour (src/activate/activate.c, v252), plus MPTCP: open the -l
 * sockets (IPPROTO_MPTCP with --mptcp), then either start the program with all fds on the first
 * activity (no --accept) or accept each connection and start one instance per connection.
 */
import type { ChildProcess } from 'node:child_process';
import { IPPROTO_MPTCP } from '@mptcp/constants';
import { requireNative } from '../platform/native.js';
import type { OpenSocketSpec, SockAddr, SocketKind } from '../platform/native-types.js';
import { formatAddress, parseListenAddress } from './address.js';
import { spawnActivated } from './spawn.js';

export interface ActivateOptions {
  listen: string[];
  mptcp: boolean;
  accept: boolean;
  inetd: boolean;
  datagram: boolean;
  seqpacket: boolean;
  setenv: string[];
  fdNames?: string[] | undefined;
  argv: string[];
  log: (line: string) => void;
}

interface Watch {
  stop(): void;
}

function toWatch(handle: unknown): Watch {
  return {
    stop() {
      if (typeof handle === 'function') (handle as () => void)();
      else if (typeof handle === 'object' && handle !== null) {
        const h = handle as { stop?: () => void; close?: () => void };
        if (typeof h.stop === 'function') h.stop();
        else h.close?.();
      }
    },
  };
}

/** Fds inherited through our own LISTEN_FDS (kept in place, before the -l ones). */
function inheritedFds(env: NodeJS.ProcessEnv): number[] {
  if (env.LISTEN_PID !== String(process.pid)) return [];
  const n = Number(env.LISTEN_FDS ?? 0);
  return Number.isInteger(n) && n > 0 ? Array.from({ length: n }, (_, i) => 3 + i) : [];
}

export interface OpenedListen {
  fd: number;
  local: SockAddr;
  protocol: number;
}

export function openListeners(o: ActivateOptions): OpenedListen[] {
  const openSocket = requireNative('openSocket');
  const kind: SocketKind = o.datagram ? 'datagram' : o.seqpacket ? 'seqpacket' : 'stream';
  const out: OpenedListen[] = inheritedFds(process.env).map((fd) => ({ fd, local: { family: 'unix', path: '(inherited)', abstract: false }, protocol: 0 }));
  for (const value of o.listen) {
    const address = parseListenAddress(value);
    const spec: OpenSocketSpec = { kind, address, nonBlocking: true };
    if (o.mptcp && (address.family === 'inet' || address.family === 'inet6')) spec.protocol = IPPROTO_MPTCP;
    if (address.family === 'inet6' && address.address === '::') spec.bindIPv6Only = 'both';
    const opened = openSocket(spec);
    out.push({ fd: opened.fd, local: opened.local, protocol: opened.protocol });
    o.log(`Listening on ${formatAddress(opened.local)} as ${3 + out.length - 1}.`);
  }
  return out;
}

/** Runs until the program exits (no --accept) or until SIGTERM/SIGINT (--accept). Resolves with the exit code. */
export function runActivator(o: ActivateOptions): Promise<number> {
  const native = {
    watch: requireNative('watchReadable'),
    accept: requireNative('accept'),
    close: requireNative('close'),
    setNonBlocking: requireNative('setNonBlocking'),
  };
  const listeners = openListeners(o);
  const program = o.argv[0] ?? '';
  return new Promise<number>((resolve) => {
    const watches: Watch[] = [];
    const children = new Set<ChildProcess>();
    const stopWatches = (): void => {
      for (const w of watches.splice(0)) w.stop();
    };
    const onSignal = (sig: NodeJS.Signals) => (): void => {
      stopWatches();
      for (const c of children) c.kill('SIGTERM');
      for (const l of listeners) native.close(l.fd);
      resolve(sig === 'SIGINT' ? 130 : 143);
    };
    const onTerm = onSignal('SIGTERM');
    const onInt = onSignal('SIGINT');
    process.once('SIGTERM', onTerm);
    process.once('SIGINT', onInt);

    if (!o.accept) {
      listeners.forEach((l, i) => {
        watches.push(
          toWatch(
            native.watch(l.fd, () => {
              if (watches.length === 0) return;
              stopWatches();
              o.log(`Communication attempt on fd ${3 + i}.`);
              o.log(`Execing ${program} (${o.argv.join(' ')})`);
              // The program gets the fds as systemd passes them: blocking mode.
              for (const x of listeners) native.setNonBlocking(x.fd, false);
              const child = spawnActivated({ argv: o.argv, fds: listeners.map((x) => x.fd), inetd: o.inetd, fdNames: o.fdNames, setenv: o.setenv });
              children.add(child);
              for (const x of listeners) native.close(x.fd);
              // We stand in for the exec'd program: its signals and its exit status are ours.
              process.off('SIGTERM', onTerm);
              process.off('SIGINT', onInt);
              const forward = (s: NodeJS.Signals) => (): void => void child.kill(s);
              process.on('SIGTERM', forward('SIGTERM'));
              process.on('SIGINT', forward('SIGINT'));
              process.on('SIGHUP', forward('SIGHUP'));
              child.on('error', (err) => {
                o.log(`Failed to execute ${program}: ${err.message}`);
                resolve(1);
              });
              child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGINT' ? 2 : 15) : 1)));
            }),
          ),
        );
      });
      return;
    }
    for (const l of listeners) {
      watches.push(
        toWatch(
          native.watch(l.fd, () => {
            for (;;) {
              const conn = native.accept(l.fd);
              if (!conn) return;
              o.log(`Connection from ${formatAddress(conn.remote)} to ${formatAddress(conn.local)}`);
              native.setNonBlocking(conn.fd, false);
              const child = spawnActivated({ argv: o.argv, fds: [conn.fd], inetd: o.inetd, fdNames: o.fdNames, setenv: o.setenv });
              native.close(conn.fd);
              children.add(child);
              child.on('error', (err) => o.log(`Failed to execute ${program}: ${err.message}`));
              child.on('exit', () => children.delete(child));
            }
          }),
        ),
      );
    }
  });
}
