/**
 * mptcpd-lite as a child process: start it on a unit directory, detect readiness (sd_notify
 * READY=1 on a NOTIFY_SOCKET we own, or a "ready" line on stderr), talk to its control socket.
 */
import { createConnection } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DAEMON_CLI } from './paths.js';
import { start, type Running } from './proc.js';

/**
 * A NOTIFY_SOCKET receiver. Node has no AF_UNIX datagram sockets, so a few lines of Python bind it
 * and print each datagram (newlines escaped) on stdout.
 */
export async function notifyListener(path: string): Promise<Running> {
  const py = [
    'import socket,sys,os',
    'p=sys.argv[1]',
    'os.path.exists(p) and os.unlink(p)',
    's=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.bind(p)',
    'print("BOUND",flush=True)',
    'while True:',
    '  d=s.recv(65536).decode("utf8","replace")',
    '  print("NOTIFY "+d.replace("\\n","\\\\n"),flush=True)',
  ].join('\n');
  const r = start('python3', ['-c', py, path]);
  await r.waitFor(/^BOUND/, 5000);
  return r;
}

export interface DaemonOptions {
  units: string;
  control: string;
  /** argv prefix, e.g. ['ip','netns','exec','x-srv']. */
  prefix?: string[];
  env?: NodeJS.ProcessEnv;
  extraArgs?: string[];
  readyTimeoutMs?: number;
  /**
   * Readiness by sd_notify READY=1 on a NOTIFY_SOCKET we own, instead of the `{"event":"ready"}`
   * line on stdout. Both mean "every socket listens"; the line needs no helper process on our
   * side (Node has no AF_UNIX datagram sockets), so the benchmarks use it.
   */
  notify?: boolean;
}

export interface Daemon {
  proc: Running;
  /** Spawn to readiness, in ms. */
  readyMs: number;
  /** The ready event the daemon printed (sockets, services, failed, startupMs…), when it printed one. */
  ready: Record<string, unknown>;
  readyBy: 'notify' | 'ready line';
  stop(): Promise<void>;
}

export function daemonAvailable(): boolean {
  return existsSync(DAEMON_CLI);
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const notifyPath = join(o.units, '..', `notify-${process.pid}-${Date.now()}.sock`);
  const notify = o.notify ? await notifyListener(notifyPath) : undefined;
  const argv = [
    ...(o.prefix ?? []),
    process.execPath,
    DAEMON_CLI,
    'run',
    '--units',
    o.units,
    '--control',
    o.control,
    ...(o.extraArgs ?? []),
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, ...o.env };
  if (notify) env.NOTIFY_SOCKET = notifyPath;
  else delete env.NOTIFY_SOCKET;
  const t0 = performance.now();
  const proc = start(argv[0]!, argv.slice(1), { env });
  let ready: Record<string, unknown> = {};
  try {
    if (notify) await notify.waitFor(/READY=1/, o.readyTimeoutMs ?? 30_000);
    else
      ready = JSON.parse(await proc.waitFor(/^\{"event":"ready"/, o.readyTimeoutMs ?? 30_000)) as Record<
        string,
        unknown
      >;
  } catch (e) {
    await proc.stop('SIGKILL');
    await notify?.stop('SIGKILL');
    throw e;
  }
  const readyMs = performance.now() - t0;
  return {
    proc,
    readyMs,
    ready,
    readyBy: notify ? 'notify' : 'ready line',
    async stop() {
      await proc.stop('SIGTERM', 5000);
      await notify?.stop('SIGKILL');
    },
  };
}

/** One request on the control socket; resolves with the parsed reply. */
export function control(path: string, cmd: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path });
    let buf = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`control ${cmd}: no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(timer);
        s.end();
        try {
          resolve(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      if (!buf.includes('\n')) reject(new Error(`control ${cmd}: connection closed without a reply`));
    });
    s.write(`${JSON.stringify({ cmd })}\n`);
  });
}
