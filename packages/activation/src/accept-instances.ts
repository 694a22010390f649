/**
 * Accept=yes: the socket accepts each connection and starts one instance of its template for it
 * (socket.c socket_enter_running() with Accept=yes): admission (trigger limit, MaxConnections=,
 * MaxConnectionsPerSource=), instance naming, the instance's start with the connection fd, and the
 * instances each socket runs (counted, found by name, stopped), which follow the socket across a
 * reload (see socket-runtime.ts Carried).
 */
import type { AcceptSpawnEvent, AcceptedConnection, SpawnProcessOptions } from '@mptcp/native';
import type { ServiceUnit } from '@mptcp/unit';
import {
  type AcceptSpawnApi,
  FastInstance,
  type FastSocket,
  addFastListener,
  capturingSpawn,
  exitResult,
  fastEligible,
  nameConnection,
  refusalMessage,
  removeFastListener,
  templateOf,
} from './accept-fast.js';
import { cgNeedsEscape } from './cgroup.js';
import type { EngineCore } from './engine-core.js';
import type { ServiceTemplate } from './engine-types.js';
import { ActivationError, errnoOf, messageOf } from './errors.js';
import type { FdHandOff } from './exec.js';
import {
  connectionInstance,
  instanceServiceName,
  prettyAddress,
  remoteEnvironment,
  sourceKey,
  templateNameFor,
  templatePrefix,
} from './instance-name.js';
import { TRIGGER_LIMIT_MESSAGE, takeTrigger } from './limits.js';
import type { OpenedPort } from './open-listen.js';
import { usesSocketStdio } from './service-output.js';
import { ServiceProcess, type StartContext } from './service-process.js';
import type { ServiceExit } from './service-types.js';
import type { SocketRuntime, SocketRuntimes } from './socket-runtime.js';
import { SpawnBudget } from './spawn-budget.js';
import type { TemplateResolver } from './templates.js';
import { userDatabasePaths } from './user.js';

/** Accept=yes connections accepted per readiness event at most (then the next ones in a macrotask). */
const ACCEPT_BATCH = 8;

type RefusalReason = 'max-connections' | 'max-connections-per-source' | 'trigger-limit-hit' | 'error';

/** An Accept=yes instance: started the regular way, or by the accept thread (accept-fast.ts). */
export type AcceptedInstance = ServiceProcess | FastInstance;

/** `MPTCP_ACTIVATION_FAST_ACCEPT=0` keeps every Accept=yes socket on the regular path. */
export function fastAcceptDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.MPTCP_ACTIVATION_FAST_ACCEPT === '0';
}

export class AcceptInstances {
  /** Connections accepted whose instance is not spawned yet. */
  private readonly budget = new SpawnBudget();
  /** Sockets that stopped accepting until a spawn completes. */
  private readonly paused = new Set<SocketRuntime>();
  /** Ports with an accept scheduled (scheduleAccept()). */
  private readonly scheduled = new WeakSet<OpenedPort>();
  /** Sockets whose connections the accept thread takes (accept-fast.ts). */
  private readonly fast = new Map<SocketRuntime, FastSocket>();
  /** Sockets whose template was found unfit for the fast path (until the next reload). */
  private regularOnly = new WeakSet<SocketRuntime>();
  /** The accept thread's running instances. */
  private readonly fastPids = new Map<
    number,
    {
      inst: FastInstance;
      instances: Set<AcceptedInstance>;
      socket: string;
      sock: SocketRuntime;
      /** The listener that admitted it, and its source as the limits count it. */
      listener: number;
      source: { key: string; perSource: boolean };
    }
  >();

  constructor(
    private readonly core: EngineCore,
    private readonly sockets: SocketRuntimes,
    private readonly template: (name: string) => ServiceTemplate | undefined,
    private readonly instantiate: TemplateResolver,
    /** A regular instance ended (its template's OnFailure=/OnSuccess=: dependencies.ts). */
    private readonly ended?: (unit: ServiceUnit, exit: ServiceExit, invocationId: string | undefined) => void,
  ) {}

  /** A running instance by name (`echo@3-127.0.0.1:80-127.0.0.1:5000.service`). */
  find(name: string): { sock: SocketRuntime; proc: AcceptedInstance } | undefined {
    for (const sock of this.sockets.values())
      for (const proc of sock.instances) if (proc.name === name) return { sock, proc };
    return undefined;
  }

  /**
   * Up to ACCEPT_BATCH connections per readiness event (systemd's socket_dispatch_io() takes one):
   * each instance's spawn is under way before the next accept, and no more connections wait for
   * their spawn than the fds left allow (spawn-budget.ts), so a small fd budget (RLIMIT_NOFILE)
   * serves as many connections as it can instead of holding them all unserved. The watch is
   * level-triggered: a longer queue brings the next event at once.
   */
  onReadable(sock: SocketRuntime, port: OpenedPort): void {
    // The accept thread serves it (a macrotask scheduled before the switch finds nothing to do).
    if (this.fast.has(sock)) return;
    const native = this.core.requireNative();
    // A few connections per event when the queue holds several (each one's spawn is dispatched
    // before the next accept); the budget and EMFILE are checked before every accept.
    for (let n = 0; n < ACCEPT_BATCH; n++) {
      if (sock.state !== 'listening' || this.core.stopping) return;
      if (this.budget.exhausted()) {
        // Enough connections wait for their instance to be spawned for the fds left: accepting more
        // now would hold their fds unserved. Stop polling until a spawn completes (start()).
        this.sockets.unwatch(sock);
        this.paused.add(sock);
        return;
      }
      let conn: AcceptedConnection | null;
      try {
        conn = native.accept(port.fd);
      } catch (err) {
        const errno = errnoOf(err);
        if (errno === 'EMFILE' || errno === 'ENFILE') {
          this.waitForFds(sock, messageOf(err));
          return;
        }
        this.core.log.warn(`Failed to accept connection: ${messageOf(err)}`, { unit: sock.unit.name });
        return;
      }
      if (conn === null) return;
      this.onConnection(sock, conn);
    }
    // The queue may hold more: the next accepts come in their own macrotask, after what these
    // connections' starts could do meanwhile (the readiness watch alone may not fire again for
    // connections that were already queued).
    this.scheduleAccept(sock, port);
  }

  /** One more accept on `port` soon (at most one pending per port). */
  private scheduleAccept(sock: SocketRuntime, port: OpenedPort): void {
    if (this.scheduled.has(port)) return;
    this.scheduled.add(port);
    setImmediate(() => {
      this.scheduled.delete(port);
      if (this.sockets.get(sock.unit.name) === sock && sock.ports.includes(port)) this.onReadable(sock, port);
    });
  }

  /** Polls `sock` again and looks at its queues at once. */
  private resume(sock: SocketRuntime): void {
    this.sockets.enterListening(sock);
    for (const port of sock.ports) this.scheduleAccept(sock, port);
  }

  /** A spawn completed: the sockets that paused for it poll again (the next accept re-checks the budget). */
  private resumePaused(): void {
    if (this.paused.size === 0) return;
    const paused = [...this.paused];
    this.paused.clear();
    for (const sock of paused) {
      if (sock.state === 'listening' && !sock.fdWait && this.sockets.live(sock)) this.resume(sock);
    }
  }

  /**
   * Out of fds: stop polling (a level-triggered watch would spin) until an instance of this socket
   * exits, or a second has passed when none runs. Logged once per stall.
   */
  private waitForFds(sock: SocketRuntime, why: string): void {
    if (sock.fdWait) return;
    this.core.log.warn(
      `Failed to accept connection: ${why}; waiting for a running instance to exit before accepting more.`,
      { unit: sock.unit.name },
    );
    this.sockets.unwatch(sock);
    const resume = (): void => {
      if (!sock.fdWait) return;
      clearTimeout(sock.fdWait);
      delete sock.fdWait;
      if (sock.state === 'listening' && this.sockets.live(sock)) this.resume(sock);
    };
    sock.fdWait = setTimeout(resume, 1000);
    sock.resumeAccept = resume;
  }

  private refuse(sock: SocketRuntime, conn: AcceptedConnection, reason: RefusalReason, message: string): void {
    this.core.requireNative().close(conn.fd);
    sock.counters.refused += 1;
    this.core.events.emit('refused', { socket: sock.unit.name, reason, remote: conn.remote, message });
  }

  private onConnection(sock: SocketRuntime, conn: AcceptedConnection): void {
    const native = this.core.requireNative();
    if (!takeTrigger(sock)) {
      this.refuse(sock, conn, 'trigger-limit-hit', TRIGGER_LIMIT_MESSAGE);
      this.sockets.triggerLimitHit(sock);
      return;
    }
    let creds = null;
    if (conn.remote.family === 'unix') {
      try {
        creds = native.peerCredentials(conn.fd);
      } catch {
        creds = null;
      }
    }
    const admission = sock.limits.admit(
      sourceKey(conn.remote, creds),
      prettyAddress(conn.remote) ?? sourceKey(conn.remote, creds),
    );
    if (!admission.ok) {
      this.core.log.warn(admission.message, { unit: sock.unit.name });
      this.refuse(sock, conn, admission.reason, admission.message);
      return;
    }
    sock.counters.accepted += 1;
    const instance = connectionInstance(sock.nAccepted, conn.local, conn.remote, creds);
    sock.nAccepted += 1;
    const name = instanceServiceName(sock.unit.name, instance);
    const source = { key: sourceKey(conn.remote, creds), perSource: sock.limits.maxPerSource > 0 };
    this.core.events.emit('accepted', {
      socket: sock.unit.name,
      service: name,
      instance,
      remote: conn.remote,
      local: conn.local,
    });
    void this.start(sock, conn, name, instance, source, admission.release);
  }

  private async start(
    sock: SocketRuntime,
    conn: AcceptedConnection,
    name: string,
    instance: string,
    source: { key: string; perSource: boolean },
    release: () => void,
  ): Promise<void> {
    const { core } = this;
    const native = core.requireNative();
    // Once the engine's count of this connection is released: if the socket went to the accept
    // thread meanwhile, the thread was handed counts that include it, so its count goes too.
    let fastReleased = false;
    const releaseFast = (): void => {
      if (fastReleased) return;
      fastReleased = true;
      const fast = this.fast.get(sock);
      if (fast) this.fastApi()?.release(fast.listener, source.key, source.perSource);
    };
    let svc: ServiceProcess | undefined;
    // The main spawn may close the connection itself (right after clone, on the pool thread);
    // otherwise it is ours to close, exactly once, below.
    const handOff: FdHandOff = { fd: conn.fd, closed: false };
    this.budget.inFlight += 1;
    try {
      const templateName = templateNameFor(sock.unit.name);
      const template = this.template(templateName);
      if (!template)
        throw new ActivationError('TEMPLATE_NOT_FOUND', `Service ${templateName} not loaded`, { unit: sock.unit.name });
      // A resolver that answers at once (the default: the template is in memory) is not awaited, so
      // that the spawn is handed off before onReadable() tries the next accept.
      const resolved = this.instantiate(template, name);
      const unit = resolved instanceof Promise ? await resolved : resolved;
      // While the socket is not on the fast path yet, the instance's spawn is recorded: a plain one
      // becomes the accept thread's template (goFast()).
      const options = core.serviceOptions();
      const capture = this.fastCandidate(sock) && options.spawn ? capturingSpawn(options.spawn) : undefined;
      const proc = new ServiceProcess(unit, capture ? { ...options, spawn: capture.spawn } : options);
      svc = proc;
      // The set (and the limits) move to a reopened runtime on reload: the instance stays tracked.
      const instances = sock.instances;
      instances.add(proc);
      proc.on('state', (state) =>
        core.events.emit('service-state', {
          service: name,
          state,
          ...(proc.pid !== undefined ? { pid: proc.pid } : {}),
        }),
      );
      proc.on('exit', (exit) => {
        release();
        releaseFast();
        instances.delete(proc);
        core.events.emit('service-exit', exit);
        this.ended?.(proc.unit, exit, proc.lastInvocationId);
        // An fd came free: a socket that ran out of them accepts again.
        this.sockets.get(sock.unit.name)?.resumeAccept?.();
      });
      if (core.stopping) throw new ActivationError('ENGINE_STATE', 'engine is stopping');
      // As stdio the connection is always blocking (exec_invoke() drops O_NONBLOCK on socket_fd).
      const inetd = usesSocketStdio(unit);
      if (!unit.nonBlocking || inetd) native.setNonBlocking(conn.fd, false);
      const env = remoteEnvironment(conn.remote);
      const ctx: StartContext = inetd
        ? { socketStdio: conn.fd, env, handOff }
        : { fds: [conn.fd], fdNames: [sock.unit.fileDescriptorName ?? 'connection'], env, handOff };
      const pid = await proc.start(ctx);
      // The child has its own copy: the daemon's goes before anything else runs, since the peer sees
      // the end of the connection only once every copy is closed.
      if (!handOff.closed) native.close(conn.fd);
      handOff.closed = true;
      core.events.emit('started', { service: name, pid, socket: sock.unit.name });
      const captured = capture?.captured();
      if (captured) this.goFast(sock, unit, template, instance, captured, conn.fd);
    } catch (err) {
      release();
      releaseFast();
      if (svc) sock.instances.delete(svc);
      // Never queued (dependencies.ts logged it, as 257's socket does): no start to fail.
      if ((err as { code?: string }).code !== 'JOB_REFUSED')
        core.log.error(`Failed to start ${name}: ${messageOf(err)}`, { unit: sock.unit.name });
    } finally {
      // The daemon's copy must go, or the peer never sees EOF.
      if (!handOff.closed) native.close(conn.fd);
      handOff.closed = true;
      this.budget.inFlight -= 1;
      this.resumePaused();
    }
  }

  // ---- the fast path (accept-fast.ts) -------------------------------------------------------------

  private fastApi(): AcceptSpawnApi | undefined {
    return this.core.requireNative().acceptSpawn;
  }

  /** Whether the next instance's spawn is worth recording: a one-port inet socket not on the fast path. */
  private fastCandidate(sock: SocketRuntime): boolean {
    if (this.fast.has(sock) || this.regularOnly.has(sock) || fastAcceptDisabled()) return false;
    if (!this.fastApi() || sock.ports.length !== 1) return false;
    const family = sock.ports[0]?.local?.family;
    return family === 'inet' || family === 'inet6';
  }

  /**
   * The instance just started proved plain: its spawn, with the connection marked, is the template
   * of the socket's next instances. The socket must be polled by the engine right now (not paused by
   * a limit, an fd shortage or the spawn budget); its counts and rate windows go along.
   */
  private goFast(
    sock: SocketRuntime,
    unit: ServiceUnit,
    template: unknown,
    instance: string,
    captured: SpawnProcessOptions,
    connFd: number,
  ): void {
    const api = this.fastApi();
    const port = sock.ports[0];
    if (!api || !port || this.fast.has(sock)) return;
    const spawn = fastEligible(unit, instance) ? templateOf(captured, connFd) : undefined;
    if (!spawn) {
      this.regularOnly.add(sock);
      return;
    }
    if (sock.state !== 'listening' || sock.fdWait || sock.pollPause || this.paused.has(sock)) return;
    if (sock.watches.length === 0 || !this.sockets.live(sock) || this.core.stopping) return;
    const u = sock.unit;
    // Cgroup tracking: the thread makes each instance's cgroup in the tree, named as the instance.
    const cgroups = this.core.channels.cgroupsFor(this.core.native) ? this.core.serviceOptions().cgroups : undefined;
    // 257 names a cgroup by cg_escape() of the unit (CgroupTree.unit()); for an instance that adds a
    // `_` when the template's prefix asks for it (`_…`, `.…`, `cgroup.…`, `<controller>.…`), which the
    // thread does not do: such a template stays on the regular path.
    if (cgroups && cgNeedsEscape(`${templatePrefix(u.name)}@`)) {
      this.regularOnly.add(sock);
      return;
    }
    let listener: number;
    try {
      listener = addFastListener(
        api,
        port.fd,
        {
          spawn,
          limits: {
            maxConnections: sock.limits.maxConnections,
            maxPerSource: sock.limits.maxPerSource,
            connections: sock.limits.connections,
            sources: sock.limits.sources(),
            trigger: {
              intervalUsec: u.triggerLimitIntervalUsec,
              burst: u.triggerLimitBurst,
              ...sock.triggerLimit.window(),
            },
            poll: {
              intervalUsec: u.pollLimitIntervalUsec,
              burst: u.pollLimitBurst,
              ...(sock.pollLimit ? sock.pollLimit.window() : {}),
            },
          },
          ...(unit.user !== undefined || unit.group !== undefined ? { watch: userDatabasePaths() } : {}),
          names: { prefix: templatePrefix(u.name), next: sock.nAccepted },
          ...(cgroups ? { cgroupDir: cgroups.base } : {}),
        },
        (ev) => this.onFastEvent(ev),
      );
    } catch (err) {
      // E.g. pthread_create EAGAIN: the socket stays on the regular path (the next socket tries again).
      this.core.log.warn(`Accept fast path unavailable: ${messageOf(err)}`, { unit: u.name });
      this.regularOnly.add(sock);
      return;
    }
    const fast: FastSocket = { listener, unit, template, ...(cgroups ? { cgroups } : {}) };
    this.fast.set(sock, fast);
    this.fastSockets.set(listener, { sock, fast });
    // The engine's watch stops; every later stop of polling (stop, failure, reload, lending…) ends
    // the fast path through this one.
    this.sockets.unwatch(sock);
    sock.watches.push({ stop: () => this.leaveFast(sock) });
  }

  /**
   * The accept thread's listeners, until taken back and drained; a taken-back one stays while
   * connections it admitted are still being spawned (`pending`: their share of the limits, held by
   * the engine meanwhile, and handed to their instance once `started` comes).
   */
  private readonly fastSockets = new Map<
    number,
    { sock: SocketRuntime; fast: FastSocket; pending?: Array<{ key: string; perSource: boolean; release: () => void }> }
  >();

  /**
   * Takes the socket back from the thread (idempotent, never waits for a spawn); what it had not
   * reported yet is handled now. A connection still being spawned keeps its place in the limits,
   * which from now on the engine counts.
   */
  private leaveFast(sock: SocketRuntime): void {
    const fast = this.fast.get(sock);
    const api = this.fastApi();
    if (!fast || !api) return;
    this.fast.delete(sock);
    const { pending, nextIndex } = removeFastListener(api, fast.listener);
    // Connections still being spawned were numbered already: the regular path goes on after them.
    if (nextIndex > sock.nAccepted) sock.nAccepted = nextIndex;
    const entry = this.fastSockets.get(fast.listener);
    if (pending.length === 0 || !entry) {
      this.fastSockets.delete(fast.listener);
      return;
    }
    entry.pending = pending.map((p) => {
      const admission = sock.limits.admit(p.source, p.source);
      return { key: p.source, perSource: p.perSource, release: admission.ok ? admission.release : () => {} };
    });
  }

  /**
   * The engine's share of a connection that was in flight when its listener was taken back, or
   * undefined when the listener was not taken back. The entry goes once nothing is pending.
   */
  private takePending(
    listener: number,
    key: string,
  ): { key: string; perSource: boolean; release: () => void } | undefined {
    const entry = this.fastSockets.get(listener);
    if (!entry?.pending) return undefined;
    const i = entry.pending.findIndex((p) => p.key === key);
    const [taken] = entry.pending.splice(i < 0 ? 0 : i, 1);
    if (entry.pending.length === 0) this.fastSockets.delete(listener);
    return taken ?? { key, perSource: false, release: () => {} };
  }

  /**
   * An engine-held share of the limits ends: the listener the socket is on now (fast again since)
   * was handed counts that include it, so it drops it too.
   */
  private releaseMoved(sock: SocketRuntime, listener: number, key: string, perSource: boolean): void {
    const cur = this.fast.get(sock);
    if (cur && cur.listener !== listener) this.fastApi()?.release(cur.listener, key, perSource);
  }

  /**
   * A reload: templates, limits and settings may have changed. Every fast socket goes back to the
   * regular path (and polls again); its next instance is recorded anew.
   */
  reloaded(): void {
    this.regularOnly = new WeakSet();
    for (const sock of [...this.fast.keys()]) {
      this.leaveFast(sock);
      if (sock.state === 'listening' && this.sockets.live(sock) && !this.core.stopping)
        this.sockets.enterListening(sock);
    }
  }

  private onFastEvent(ev: AcceptSpawnEvent): void {
    if (ev.type === 'exited') {
      this.onFastExit(ev.pid, ev.exit, ev.cgroup !== undefined);
      return;
    }
    if (ev.type === 'reap-fallback') {
      this.core.log.warn(
        `Cannot watch an instance's pidfd (${messageOf(ev.error)}); instances are reaped by polling every 10 ms.`,
      );
      return;
    }
    const entry = this.fastSockets.get(ev.listener);
    const api = this.fastApi();
    if (!entry || !api) {
      // Never: a taken-back listener's entry stays until its spawns in flight have reported.
      if (ev.type === 'started') api?.kill(ev.pid, 'SIGKILL', true);
      return;
    }
    const { core } = this;
    const { sock, fast } = entry;
    const log = core.log;
    const unitName = sock.unit.name;
    switch (ev.type) {
      case 'started': {
        sock.triggerLimit.below();
        sock.counters.triggers += 1;
        sock.counters.accepted += 1;
        const { instance, name } = nameConnection(sock, ev);
        // In flight when the listener was taken back: the engine holds its share already.
        const held = this.takePending(ev.listener, sourceKey(ev.remote));
        const admission = held
          ? { ok: true as const, release: held.release }
          : sock.limits.admit(sourceKey(ev.remote), prettyAddress(ev.remote) ?? '');
        const inst = new FastInstance(
          name,
          ev.pid,
          fast.unit,
          ev.invocationId,
          api,
          admission.ok ? admission.release : () => {},
          fast.cgroups,
        );
        sock.instances.add(inst);
        this.fastPids.set(ev.pid, {
          inst,
          instances: sock.instances,
          socket: unitName,
          sock,
          listener: ev.listener,
          source: { key: sourceKey(ev.remote), perSource: sock.limits.maxPerSource > 0 },
        });
        core.events.emit('accepted', { socket: unitName, service: name, instance, remote: ev.remote, local: ev.local });
        core.events.emit('service-state', { service: name, state: 'active', pid: ev.pid });
        core.events.emit('started', { service: name, pid: ev.pid, socket: unitName });
        // Started after the engine began to stop (its spawn was in flight): stopped as the others were.
        if (core.stopping) void inst.stop();
        return;
      }
      case 'refused': {
        sock.triggerLimit.below();
        sock.counters.triggers += 1;
        const { message } = refusalMessage(ev, ev.remote);
        log.warn(message, { unit: unitName });
        sock.counters.refused += 1;
        core.events.emit('refused', { socket: unitName, reason: ev.reason, remote: ev.remote, message });
        return;
      }
      case 'trigger-limit':
        sock.counters.refused += 1;
        core.events.emit('refused', {
          socket: unitName,
          reason: 'trigger-limit-hit',
          remote: ev.remote,
          message: TRIGGER_LIMIT_MESSAGE,
        });
        this.sockets.triggerLimitHit(sock);
        return;
      case 'poll-limit': {
        const u = sock.unit;
        const ms = Math.max(1, Math.round(u.pollLimitIntervalUsec / 1000));
        log.warn(`Poll limit hit (PollLimitBurst=${u.pollLimitBurst} in ${ms} ms), pausing polling for ${ms} ms.`, {
          unit: unitName,
        });
        return;
      }
      case 'fds-exhausted':
        log.warn(
          `Failed to accept connection: ${messageOf(ev.error)}; waiting for a running instance to exit before accepting more.`,
          { unit: unitName },
        );
        return;
      case 'accept-error':
        log.warn(`Failed to accept connection: ${messageOf(ev.error)}`, { unit: unitName });
        return;
      case 'spawn-failed': {
        const key = sourceKey(ev.remote);
        const held = this.takePending(ev.listener, key);
        if (held) {
          held.release();
          this.releaseMoved(sock, ev.listener, key, held.perSource);
        }
        sock.triggerLimit.below();
        sock.counters.triggers += 1;
        sock.counters.accepted += 1;
        const { instance, name } = nameConnection(sock, ev);
        core.events.emit('accepted', { socket: unitName, service: name, instance, remote: ev.remote, local: ev.local });
        log.error(`Failed to start ${name}: ${messageOf(ev.error)}`, { unit: unitName });
        return;
      }
      case 'released':
        log.debug(`${ev.path} changed: back to the regular accept path.`, { unit: unitName });
        this.leaveFast(sock);
        if (sock.state === 'listening' && this.sockets.live(sock) && !core.stopping) this.sockets.enterListening(sock);
        return;
    }
  }

  /**
   * An instance's main process was reaped. `kept`: its cgroup still holds a process it left, which
   * goes first (FastInstance.onExit()); the instance ends after that, as a regular one.
   */
  private onFastExit(pid: number, exit: { code: number | null; signal: NodeJS.Signals | null }, kept: boolean): void {
    const rec = this.fastPids.get(pid);
    if (!rec) return;
    this.fastPids.delete(pid);
    const { inst } = rec;
    const log = this.core.log;
    const { result, line } = exitResult(inst.unit, exit);
    if (result === 'success') log.debug(line, { unit: inst.name });
    else log.warn(line, { unit: inst.name });
    const finish = (timedOut: boolean): void => {
      inst.release();
      // The socket went back to the regular path and fast again since: the new listener was handed
      // counts that include this instance, and the thread only un-counts it on the old one.
      this.releaseMoved(rec.sock, rec.listener, rec.source.key, rec.source.perSource);
      rec.instances.delete(inst);
      const final = timedOut && result === 'success' ? 'timeout' : result;
      if (final !== 'success') log.warn(`Failed with result '${final}'.`, { unit: inst.name });
      this.core.events.emit('service-exit', {
        unit: inst.name,
        pid,
        code: exit.code,
        signal: exit.signal,
        result: final,
        restart: false,
        stopped: inst.stopRequested,
      });
      inst.ended();
      this.sockets.get(rec.socket)?.resumeAccept?.();
    };
    if (!kept || !inst.cgroup) {
      finish(false);
      return;
    }
    inst.onExit(true, log).then(finish, (err: unknown) => {
      log.warn(`Cannot drain the cgroup: ${messageOf(err)}`, { unit: inst.name });
      finish(false);
    });
  }
}
