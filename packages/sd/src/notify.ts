/**
 * sd_notify(3) for Node: one AF_UNIX datagram to $NOTIFY_SOCKET, sent by this process (the manager
 * checks the sender's PID against NotifyAccess=). Node cannot send AF_UNIX datagrams, so the send
 * goes through @mptcp/native, imported lazily: `listenFds()` never loads the addon.
 */

import { SdError } from './errors.js';

/** What to tell the service manager; each field becomes one `KEY=VALUE` line (sd_notify(3)). */
export interface NotifyState {
  /** READY=1: start-up finished (Type=notify). */
  ready?: boolean;
  /** RELOADING=1 with MONOTONIC_USEC= (Type=notify-reload needs both); send `ready` when done. */
  reloading?: boolean;
  /** STOPPING=1: shutting down. */
  stopping?: boolean;
  /** STATUS=: one line for `status`. */
  status?: string;
  /** ERRNO=: why the service failed, as an errno number. */
  errno?: number;
  /** MAINPID=: the main process is another PID (e.g. after a double fork). */
  mainPid?: number;
  /** WATCHDOG=1 (true) or WATCHDOG=trigger (the manager acts as if the watchdog timed out). */
  watchdog?: true | 'trigger';
  /** WATCHDOG_USEC=: a new watchdog timeout. */
  watchdogUsec?: number;
  /** EXTEND_TIMEOUT_USEC=: the start/stop/reload may take this much longer from now. */
  extendTimeoutUsec?: number;
  /** FDSTORE=1: the fds attached to the message go into the manager's fd store. */
  fdStore?: boolean;
  /** FDSTOREREMOVE=1: drop the stored fds named `fdName`. */
  fdStoreRemove?: boolean;
  /** FDNAME=: the name of the fds stored (or removed). */
  fdName?: string;
  /** FDPOLL=0 (false): the manager must not poll the stored fds for POLLHUP. */
  fdPoll?: false;
  /** Further `KEY=VALUE` lines, sent as given. */
  extra?: Readonly<Record<string, string | number>>;
}

export interface NotifyOptions {
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Remove NOTIFY_SOCKET from the environment afterwards (sd_notify's unset_environment). */
  unsetEnvironment?: boolean;
  /** fds attached with SCM_RIGHTS (FDSTORE=1). */
  fds?: readonly number[];
}

export class NotifyError extends SdError {
  declare readonly code: 'NOTIFY_SOCKET_INVALID' | 'NOTIFY_FDS_UNSUPPORTED' | 'NOTIFY_STATE_INVALID' | 'ETIMEDOUT';

  constructor(
    code: 'NOTIFY_SOCKET_INVALID' | 'NOTIFY_FDS_UNSUPPORTED' | 'NOTIFY_STATE_INVALID' | 'ETIMEDOUT',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'NotifyError';
  }
}

/** CLOCK_MONOTONIC in µs, the clock systemd compares MONOTONIC_USEC= with (libuv's hrtime is it). */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

function line(key: string, value: string | number): string {
  const text = String(value);
  if (text.includes('\n'))
    throw new NotifyError('NOTIFY_STATE_INVALID', `${key}= must be one line: ${JSON.stringify(text)}`);
  return `${key}=${text}`;
}

function usec(key: string, v: number): string {
  if (!Number.isSafeInteger(v) || v < 0)
    throw new NotifyError('NOTIFY_STATE_INVALID', `${key}= must be a non-negative integer of µs, got ${v}`);
  return line(key, v);
}

/** The datagram text for a state (exported for tests and for callers with their own transport). */
export function formatNotify(state: NotifyState): string {
  const out: string[] = [];
  if (state.reloading) out.push('RELOADING=1', line('MONOTONIC_USEC', monotonicUsec().toString()));
  if (state.stopping) out.push('STOPPING=1');
  if (state.status !== undefined) out.push(line('STATUS', state.status));
  if (state.errno !== undefined) out.push(usec('ERRNO', state.errno));
  if (state.mainPid !== undefined) {
    if (!Number.isSafeInteger(state.mainPid) || state.mainPid <= 0)
      throw new NotifyError('NOTIFY_STATE_INVALID', `MAINPID= must be a PID, got ${state.mainPid}`);
    out.push(line('MAINPID', state.mainPid));
  }
  if (state.watchdogUsec !== undefined) out.push(usec('WATCHDOG_USEC', state.watchdogUsec));
  if (state.extendTimeoutUsec !== undefined) out.push(usec('EXTEND_TIMEOUT_USEC', state.extendTimeoutUsec));
  if (state.fdStore) out.push('FDSTORE=1');
  if (state.fdStoreRemove) out.push('FDSTOREREMOVE=1');
  if (state.fdName !== undefined) {
    // sd-daemon: a name is at most 255 characters of [^:\0-\x1f\x7f] (fdname_is_valid()).
    if (state.fdName.length > 255 || /[:\x00-\x1f\x7f]/.test(state.fdName))
      throw new NotifyError(
        'NOTIFY_STATE_INVALID',
        `invalid FDNAME=${JSON.stringify(state.fdName)}: at most 255 characters, no ':' or control characters`,
      );
    out.push(line('FDNAME', state.fdName));
  }
  if (state.fdPoll === false) out.push('FDPOLL=0');
  for (const [k, v] of Object.entries(state.extra ?? {})) {
    if (!/^[A-Z0-9_]+$/.test(k))
      throw new NotifyError('NOTIFY_STATE_INVALID', `invalid notify key ${JSON.stringify(k)}`);
    out.push(line(k, v));
  }
  if (state.watchdog !== undefined) out.push(state.watchdog === 'trigger' ? 'WATCHDOG=trigger' : 'WATCHDOG=1');
  // READY=1 last, as sd_notifyf(…"RELOADING=1\n…READY=1") users write it.
  if (state.ready) out.push('READY=1');
  return out.join('\n');
}

/** The NOTIFY_SOCKET address as @mptcp/native takes it ('/path' or '@abstract'), or undefined. */
export function notifySocket(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const s = env.NOTIFY_SOCKET;
  if (s === undefined || s === '') return undefined;
  if (s.startsWith('/') || s.startsWith('@')) return s;
  throw new NotifyError(
    'NOTIFY_SOCKET_INVALID',
    `NOTIFY_SOCKET=${s} is not an AF_UNIX address ('/path' or '@name'); vsock: is not supported`,
  );
}

type NativeNotify = typeof import('@mptcp/native');
let nativeModule: Promise<NativeNotify> | undefined;

/** @mptcp/native, loaded on the first notify. */
function native(): Promise<NativeNotify> {
  nativeModule ??= import('@mptcp/native');
  return nativeModule;
}

/**
 * Sends `state` to the service manager. Resolves false when there is none ($NOTIFY_SOCKET unset,
 * as sd_notify() returns 0), true when sent; rejects with the errno-named error of the send.
 */
export async function notify(state: NotifyState | string, options: NotifyOptions = {}): Promise<boolean> {
  const env = options.env ?? process.env;
  try {
    const address = notifySocket(env);
    if (address === undefined) return false;
    const text = typeof state === 'string' ? state : formatNotify(state);
    const nat = await native();
    const fds = options.fds ?? [];
    if (fds.length > 0) {
      if (!nat.datagramAncillarySupported())
        throw new NotifyError(
          'NOTIFY_FDS_UNSUPPORTED',
          'this build of @mptcp/native cannot attach fds to a datagram (rebuild it)',
        );
      nat.sendDatagramWithFds(address, Buffer.from(text), fds);
    } else {
      nat.sendDatagram(address, Buffer.from(text));
    }
    return true;
  } finally {
    if (options.unsetEnvironment) delete env.NOTIFY_SOCKET;
  }
}

/** READY=1 (with an optional STATUS=). */
export function ready(status?: string, options?: NotifyOptions): Promise<boolean> {
  return notify({ ready: true, ...(status !== undefined ? { status } : {}) }, options);
}

/**
 * FDSTORE=1 with FDNAME=`name`: the manager keeps copies of `fds` and hands them back on the next
 * start (after the socket fds in LISTEN_FDS, named in LISTEN_FDNAMES). The caller keeps its fds.
 */
export function storeFds(
  fds: readonly number[],
  name: string,
  options: NotifyOptions & { poll?: boolean } = {},
): Promise<boolean> {
  return notify(
    { fdStore: true, fdName: name, ...(options.poll === false ? { fdPoll: false } : {}) },
    { ...options, fds },
  );
}

/**
 * sd_notify_barrier(3): BARRIER=1 with one end of a socket pair; resolves once the manager has
 * processed every earlier notification (it closes its copy, we see EOF). False without a manager.
 */
export async function barrier(options: Omit<NotifyOptions, 'fds'> & { timeoutMs?: number } = {}): Promise<boolean> {
  const env = options.env ?? process.env;
  if (notifySocket(env) === undefined) return false;
  const nat = await native();
  const [theirs, ours] = nat.socketPair();
  const { Socket } = await import('node:net');
  const reader = new Socket({ fd: ours, readable: true, writable: false });
  const closed = new Promise<void>((resolve, reject) => {
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => reject(new NotifyError('ETIMEDOUT', `no answer to BARRIER=1 within ${options.timeoutMs} ms`)),
            options.timeoutMs,
          );
    reader.on('end', () => {
      if (timer) clearTimeout(timer);
      resolve();
    });
    reader.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
    reader.resume();
  });
  try {
    await notify('BARRIER=1', { env, fds: [theirs] });
  } finally {
    nat.close(theirs);
  }
  try {
    await closed;
  } finally {
    reader.destroy();
  }
  return true;
}

/** FDSTOREREMOVE=1 for the fds stored under `name`. */
export function removeStoredFds(name: string, options?: NotifyOptions): Promise<boolean> {
  return notify({ fdStoreRemove: true, fdName: name }, options);
}
