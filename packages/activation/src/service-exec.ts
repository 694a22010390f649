/**
 * How a service's commands are run (systemd's exec_spawn() for one unit): User=/Group=, the
 * working directory, the environment (LISTEN_*, NOTIFY_SOCKET, WATCHDOG_USEC, MAINPID), where the
 * output goes, and the launcher. The ServiceProcess decides what runs when.
 */
import type { UnitCgroup } from './cgroup.js';
import { dynamicNumericIds, dynamicUser } from './dynamic-user.js';
import { errnoMessage } from '@mptcp/constants';
import { existsSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import type { ExecCommand, ServiceUnit } from '@mptcp/unit';
import { LOCALE_VARS, buildServiceEnvironment, listenEnvironment } from './environment.js';
import { ActivationError, messageOf } from './errors.js';
import { SCHEDULING_KEYS, execContextOf, withoutSandbox } from './exec-context.js';
import { type ExecContextOptions, type ExitStatus, type ServiceChild, execCommand, waitExit } from './exec.js';
import { cleanCommandExit, resultOfUnitExit, type ServiceResult } from './restart-policy.js';
import {
  EXIT_NAMESPACE,
  EXIT_USER,
  errnoText,
  execStepMessages,
  exitStatusText,
  failedAtStep,
  namespaceFailure,
  spawnExitStatus,
  spawnStepMessage,
} from './exit-status.js';
import {
  ensureInaccessibleNodes,
  mountPlan,
  namespaceSettings,
  needsMountNamespace,
  selinuxInUse,
} from './namespace.js';
import { type PrivateTmp, createPrivateTmp, wantsPrivateTmp } from './private-tmp.js';
import { enforcementOf, refusedChild, sandboxCheck, unenforcedMessage } from './sandbox.js';
import type { OutputRoute } from './service-output.js';
import { execResourcesEnvironment, releaseExecResources, setupExecResources } from './exec-resources.js';
import { type ServiceProcessOptions, type StartContext, effectiveNotifyAccess } from './service-types.js';
import {
  type CredentialChange,
  type ResolvedUser,
  commandGroups,
  credentialChange,
  resolveGroup,
  resolveUser,
  supplementaryGroups,
} from './user.js';

/** ESRCH: getpwuid() found no entry. */
const ESRCH = 3;

const groupsOption = (groups: number[] | undefined): { groups?: number[] } => (groups ? { groups } : {});

/** A process whose credentials did not resolve: it never runs and "exits" with the step's status. */
function credentialFailure(error: ActivationError): ServiceChild {
  return {
    pid: undefined,
    method: 'native',
    spawned: Promise.resolve(error),
    exited: Promise.resolve({ code: error.exitStatus ?? 217, signal: null, error }),
    kill: () => false,
  };
}

/** The credentials of DynamicUser=yes with the numeric uid `uid`: no passwd entry, initgroups() of the number. */
function dynamicCredentials(unit: ServiceUnit, uid: number, gid: number): Credentials {
  const user: ResolvedUser = { name: String(uid), uid, gid, home: '/', shell: '/usr/sbin/nologin' };
  const groups = supplementaryGroups(user.name, gid, unit.supplementaryGroups ?? [], unit.name);
  return { user, ...credentialChange(uid, gid, undefined, groups) };
}

export interface Credentials extends CredentialChange {
  user?: ResolvedUser;
  /**
   * User=, Group= or SupplementaryGroups= did not resolve: as in 257's exec child, each process of
   * the start fails before it runs (217/USER, 216/GROUP; the error carries the status).
   */
  failure?: ActivationError;
}

/** What of the current run a command's environment carries. */
export interface RunIds {
  /** $MAINPID for control commands. */
  mainPid?: number | undefined;
  invocationId?: string | undefined;
}

export function succeeded(s: ExitStatus): boolean {
  return s.code === 0 && s.signal === null && s.error === undefined;
}

export function describeExit(s: ExitStatus): string {
  // unit_log_process_exit(): the signal's number and name (status=9/KILL).
  if (s.signal !== null)
    return `code=killed, status=${constants.signals[s.signal] ?? 0}/${s.signal.replace(/^SIG/, '')}`;
  // A failed exec is 126/127 (the sh wrapper's codes; the native launcher maps its errno to them;
  // systemd: status=203/EXEC).
  // systemd's own statuses by name (226/NAMESPACE for a refused sandbox step, exit-status.ts).
  return `code=exited, status=${s.code === null ? '?' : exitStatusText(s.code)}`;
}

let processLocale: NodeJS.ProcessEnv | undefined;

/**
 * The daemon's own locale variables, read from process.env once: a lookup there is a call into
 * the C++ environment (15 of them cost more than the rest of the environment), and a service is
 * started per Accept=yes connection. systemd too reads the locale once, at manager start.
 */
function daemonLocale(): NodeJS.ProcessEnv {
  processLocale ??= Object.fromEntries(
    LOCALE_VARS.flatMap((name) => (process.env[name] !== undefined ? [[name, process.env[name]]] : [])),
  ) as NodeJS.ProcessEnv;
  return processLocale;
}

export class ServiceExec {
  /**
   * What the run's control commands (ExecStartPre=, ExecStartPost=, ExecStop=, ExecStopPost=,
   * ExecReload=) share with its main process (service_spawn_internal() for every spawn): an
   * Accept=yes instance's REMOTE_ADDR/REMOTE_PORT, and with Standard*=socket the connection as stdio —
   * a dup held until the run ends, as systemd holds socket_fd (the caller's copy goes right after
   * the main spawn).
   */
  private controlStdio: number | undefined;
  private controlEnv: Record<string, string> | undefined;
  /** PrivateTmp=yes: this run's /tmp and /var/tmp, created at its first spawn, removed when it ends. */
  private privateTmp: PrivateTmp | undefined;
  /**
   * DynamicUser=yes with a numeric User=: this run's first command realized the dynamic user (257's
   * dynamic_user_realize() parses the number and stores it for the run); the later ones pop it, and
   * a uid outside 61184–65519 is then looked up in passwd (getpwuid()) — see laterDynamicCredentials().
   */
  private dynamicRealized = false;
  /** This run's cgroup (options.cgroups): created at its first spawn, removed once the run is over and it is empty. */
  private runCgroup: UnitCgroup | undefined;

  constructor(
    private readonly unit: () => ServiceUnit,
    private readonly options: ServiceProcessOptions,
  ) {}

  /** Keeps what the control commands of this run get from its start context (see controlStdio). */
  holdControlContext(ctx: StartContext): void {
    this.releaseControlContext(true);
    this.controlEnv = ctx.env;
    const u = this.unit();
    const dup = this.options.dupFd;
    if (ctx.socketStdio === undefined || !dup) return;
    const controls =
      u.execStartPre.length + u.execStartPost.length + u.execStop.length + u.execStopPost.length + u.execReload.length;
    if (controls > 0) this.controlStdio = dup(ctx.socketStdio);
  }

  /**
   * The run ended: the held connection goes (the peer sees EOF once the service's copies are closed
   * too). `atStart`: a new run begins (holdControlContext()): an existing RuntimeDirectory= stays.
   */
  releaseControlContext(atStart = false): void {
    const fd = this.controlStdio;
    this.controlStdio = undefined;
    this.controlEnv = undefined;
    this.dynamicRealized = false;
    if (fd !== undefined) this.options.closeFd?.(fd);
    this.privateTmp?.remove();
    this.privateTmp = undefined;
    // The cgroup goes once empty (rmdir); a process left in it (KillMode=process/none) keeps it, and
    // the next run of the unit shares it, as 257's unit cgroup.
    this.runCgroup?.release();
    this.runCgroup = undefined;
    releaseExecResources(this.unit(), this.options.logger, atStart);
  }

  /** This run's cgroup once something was spawned into it (cgroup tracking only). */
  get cgroup(): UnitCgroup | undefined {
    return this.runCgroup?.used ? this.runCgroup : undefined;
  }

  /** The fd of this run's cgroup.procs for a spawn (created at the run's first spawn), or none. */
  private cgroupFd(): { cgroupFd?: number } {
    const tree = this.options.cgroups;
    if (!tree || !this.options.spawn) return {};
    this.runCgroup ??= tree.unit(this.unit().name);
    return { cgroupFd: this.runCgroup.procsFd() };
  }

  private controlContext(): StartContext {
    return {
      ...(this.controlStdio !== undefined ? { socketStdio: this.controlStdio } : {}),
      ...(this.controlEnv ? { env: this.controlEnv } : {}),
    };
  }

  credentials(): Credentials {
    const unit = this.unit();
    try {
      const dynamic = dynamicNumericIds(unit);
      if (dynamic) {
        // DynamicUser=yes with a numeric User=: that uid, the same gid (or Group='s), no passwd entry
        // needed for the run's first command; initgroups() of the name (the number) gives the gid
        // (257: groups=4399). Later commands: laterDynamicCredentials().
        return dynamicCredentials(unit, dynamic.uid, dynamic.gid);
      }
      const user = unit.user !== undefined ? resolveUser(unit.user, unit.name) : undefined;
      const gid = unit.group !== undefined ? resolveGroup(unit.group, unit.name) : user?.gid;
      const groups = supplementaryGroups(user?.name, gid, unit.supplementaryGroups ?? [], unit.name);
      // Only what needs changing: an unprivileged daemon running User= of its own uid cannot setgroups().
      return { ...(user ? { user } : {}), ...credentialChange(user?.uid, gid, undefined, groups) };
    } catch (err) {
      if (err instanceof ActivationError && err.exitStatus !== undefined) return { failure: err };
      throw err;
    }
  }

  workingDirectory(user: ResolvedUser | undefined): string {
    const wd = this.unit().workingDirectory;
    if (!wd) return '/';
    const path = wd.path === '~' ? (user?.home ?? process.env.HOME ?? '/root') : wd.path;
    if (existsSync(path) && statSync(path).isDirectory()) return path;
    if (wd.optional) return user?.home ?? '/';
    throw new ActivationError(
      'WORKING_DIRECTORY',
      `Changing to the requested working directory failed: ${path}: No such file or directory`,
      { unit: this.unit().name },
    );
  }

  /** The command's environment; the user variables come from the unit alone (the same for `+`/`!`/`!!`). */
  environment(
    _creds: Credentials,
    cmd: ExecCommand,
    forMain: boolean,
    ctx: StartContext,
    ids: RunIds,
  ): Record<string, string> {
    const unit = this.unit();
    const activation: Record<string, string> = { ...(ctx.env ?? {}) };
    if (forMain && ctx.fds && ctx.fds.length > 0)
      Object.assign(activation, listenEnvironment(ctx.fdNames ?? ctx.fds.map(() => 'unknown')));
    const notify = this.options.notify;
    // service_exec_needs_notify_socket(): a control process only with NotifyAccess=exec/all; who gets
    // the socket also learns the store's size ($FDSTORE, systemd 257).
    const access = effectiveNotifyAccess(unit);
    if (notify && (forMain ? access !== 'none' : access === 'exec' || access === 'all')) {
      activation.NOTIFY_SOCKET = notify.address;
      const storeMax = unit.fileDescriptorStoreMax ?? 0;
      if (storeMax > 0) activation.FDSTORE = String(storeMax);
    }
    const wd = unit.watchdogUsec ?? 0;
    if (forMain && wd > 0 && Number.isFinite(wd)) activation.WATCHDOG_USEC = String(wd);
    if (!forMain && ids.mainPid !== undefined) activation.MAINPID = String(ids.mainPid);
    return buildServiceEnvironment({
      service: unit,
      activation: { ...execResourcesEnvironment(unit, this.getsCredentials(cmd, forMain)), ...activation },
      daemonEnv: this.options.daemonEnv ?? daemonLocale(),
      ...(ids.invocationId ? { invocationId: ids.invocationId } : {}),
    });
  }

  /**
   * $CREDENTIALS_DIRECTORY: 257's service_exec_flags() gives EXEC_SETUP_CREDENTIALS(_FRESH) to
   * ExecStartPre=, ExecStart= and ExecStartPost= only, and exec_context_get_credential_directory()
   * sets the variable only with it: ExecCondition=, ExecReload=, ExecStop= and ExecStopPost= go
   * without (fixtures/v257/credentials-commands). A socket's commands keep it (not recorded).
   */
  private getsCredentials(cmd: ExecCommand, forMain: boolean): boolean {
    const unit = this.unit();
    if (forMain || unit.name.endsWith('.socket')) return true;
    return unit.execStartPre.includes(cmd) || unit.execStart.includes(cmd) || unit.execStartPost.includes(cmd);
  }

  spawn(
    cmd: ExecCommand,
    env: Record<string, string>,
    cwd: string,
    creds: Credentials,
    ctx: StartContext,
  ): ServiceChild {
    const later = this.laterDynamicCredentials(creds, cmd);
    if ('pid' in later) return later;
    creds = later;
    // `!!` is `!` only where the kernel has no ambient capabilities (before 4.3): 257 runs it as User=.
    const switchUser = (!cmd.noUserSwitch || cmd.ambientMagic) && !cmd.fullPrivileges;
    // DynamicUser= with a user name (refused, sandbox.ts) would not look User= up: its refusal comes first.
    const dynamic = creds.failure !== undefined && dynamicUser(this.unit());
    if (creds.failure && !dynamic) {
      // get_fixed_user()/get_fixed_group()/get_supplementary_groups() failed: 257's child logs it and
      // exits with the step's status before anything else.
      this.options.logger.error(creds.failure.message, { unit: this.unit().name });
      // executor.c: `Failed at step USER spawning /bin/true: No such process` (fixtures/v257/failed-start nouser).
      // The errno's strerror() (log_exec_error_errno()'s %m), not the message's tail.
      const why =
        creds.failure.errno !== undefined
          ? errnoMessage(creds.failure.errno)
          : creds.failure.message.slice(creds.failure.message.lastIndexOf(': ') + 2);
      this.options.logger.error(failedAtStep(creds.failure.exitStatus ?? 217, cmd.path, why), {
        unit: this.unit().name,
      });
      return credentialFailure(creds.failure);
    }
    const refused = this.sandboxRefusal(cmd);
    if (refused) return refused;
    if (creds.failure) return credentialFailure(creds.failure);
    // The capture attributes lines to this command's PID, known once spawned.
    const started: { child?: ServiceChild } = {};
    const setup = setupExecResources(this.unit(), creds, cmd, this.options, ctx, () => started.child?.pid);
    if ('pid' in setup) return setup;
    const route = setup;
    let child: ServiceChild;
    try {
      child = this.launch(cmd, env, cwd, creds, ctx, route, switchUser);
    } catch (err) {
      // No launcher ran: the capture's ends are ours to close.
      route.release?.();
      throw err;
    }
    started.child = child;
    // The child has its copy; ours goes once the launcher has run. A step that failed in the child
    // is logged with 257's message for it (`Failed to set up CPU affinity: Invalid argument`).
    const release = route.release;
    void child.spawned.then((err) => {
      release?.();
      if (!err) return;
      const unitName = this.unit().name;
      const exec = execStepMessages(err, cmd.path);
      if (exec) {
        // 257's executor: `Unable to locate executable '…': …` (notice), then `Failed at step EXEC
        // spawning …: …` (err); fixtures/v257/failed-start missing*.service.
        if (exec.notice) this.options.logger.warn(exec.notice, { unit: unitName });
        // A `-` command whose executable is not found: exec_invoke() returns 1 (the failure is
        // ignored), and the executor logs `Failed at step` only for a negative result
        // (fixtures/v257/failed-start ignmissing.service: the notice alone).
        if (exec.notice && cmd.ignoreFailure) return;
        for (const e of exec.errors) this.options.logger.error(e, { unit: unitName });
        return;
      }
      // 257's message for the step that failed (the mount namespace's: `Failed to set up mount
      // namespacing: /x: No such file or directory`), then executor.c's `Failed at step NAMESPACE
      // spawning /bin/true: No such file or directory` (fixtures/v257/failed-start nsfail); a step
      // 257 has no words for keeps the launcher's own.
      const status = spawnExitStatus(err);
      const why = errnoText(err);
      const message =
        spawnStepMessage(err) ??
        (status === EXIT_NAMESPACE
          ? `Failed to set up mount namespacing: ${namespaceFailure(err) ?? messageOf(err)}`
          : `Failed to execute ${cmd.path}: ${messageOf(err)}`);
      this.options.logger.error(message, { unit: unitName });
      if (status !== undefined && why !== undefined)
        this.options.logger.error(failedAtStep(status, cmd.path, why), { unit: unitName });
    });
    return child;
  }

  /**
   * DynamicUser=yes with a numeric User= (dynamic-user.c dynamic_user_realize(), recorded:
   * fixtures/v257/failed-start dynpre, dyntwo, dynent): the run's first command runs as the number
   * itself; it is stored for the run, and each later command (ExecStart= after ExecStartPre=,
   * ExecStartPost=, ExecStop=…) pops it and, as a uid outside the dynamic range, looks it up in
   * passwd: without an entry the process fails 217/USER (`Failed to update dynamic user credentials:
   * No such process`), with one it takes the entry's primary gid (unless a different Group= is set).
   */
  private laterDynamicCredentials(creds: Credentials, cmd: ExecCommand): Credentials | ServiceChild {
    if (creds.failure !== undefined) return creds;
    const unit = this.unit();
    const ids = dynamicNumericIds(unit);
    if (!ids) return creds;
    if (!this.dynamicRealized) {
      this.dynamicRealized = true;
      return creds;
    }
    // uid_is_dynamic(): a uid in 61184–65519 is taken as is.
    if (ids.uid >= 61184 && ids.uid <= 65519) return creds;
    let entry: ResolvedUser;
    try {
      entry = resolveUser(String(ids.uid), unit.name);
    } catch (err) {
      if (!(err instanceof ActivationError)) throw err;
      const why = errnoMessage(ESRCH);
      const failure = new ActivationError('USER_NOT_FOUND', `Failed to update dynamic user credentials: ${why}`, {
        unit: unit.name,
        errno: ESRCH,
        exitStatus: EXIT_USER,
      });
      this.options.logger.error(failure.message, { unit: unit.name });
      this.options.logger.error(failedAtStep(EXIT_USER, cmd.path, why), { unit: unit.name });
      return credentialFailure(failure);
    }
    // The same DynamicUser object for User= and Group= (no Group=, or the same name): the entry's gid.
    const sameGroup = unit.group === undefined || unit.group === unit.user;
    try {
      return dynamicCredentials(unit, ids.uid, sameGroup ? entry.gid : ids.gid);
    } catch (err) {
      if (err instanceof ActivationError && err.exitStatus !== undefined) return { failure: err };
      throw err;
    }
  }

  /**
   * A process whose unit asks for sandboxing we do not enforce fails before it runs, with systemd's
   * exit status for that step (sandbox.ts); `+` commands run without the sandbox, as in systemd.
   * With allowUnenforcedSandbox it runs, and each unit's directives are logged once as warnings.
   */
  private sandboxRefusal(cmd: ExecCommand): ServiceChild | undefined {
    if (cmd.fullPrivileges) return undefined;
    const unit = this.unit();
    const check = sandboxCheck(unit, enforcementOf(this.options.spawn !== undefined));
    if (check.directives.length === 0) return undefined;
    const log = this.options.logger;
    if (this.options.allowUnenforcedSandbox) {
      if (check.warn()) for (const d of check.directives) log.warn(unenforcedMessage(d, true), { unit: unit.name });
      return undefined;
    }
    for (const d of check.directives) log.error(unenforcedMessage(d, false), { unit: unit.name });
    return refusedChild(unit.name, check.directives);
  }

  private launch(
    cmd: ExecCommand,
    env: Record<string, string>,
    cwd: string,
    creds: Credentials,
    ctx: StartContext,
    route: OutputRoute,
    switchUser: boolean,
  ): ServiceChild {
    return execCommand({
      command: cmd,
      env,
      ...(ctx.fds ? { fds: ctx.fds } : {}),
      ...(ctx.socketStdio !== undefined
        ? {
            socketStdio: ctx.socketStdio,
            socketStdin: route.socketStdin,
            socketStdout: route.socketStdout,
            socketStderr: route.socketStderr,
          }
        : {}),
      output: route.output,
      ...(route.outputFd !== undefined ? { outputFd: route.outputFd } : {}),
      ...(route.stdioFds ? { stdioFds: route.stdioFds } : {}),
      cwd,
      ...(switchUser && creds.uid !== undefined ? { uid: creds.uid } : {}),
      ...(switchUser && creds.gid !== undefined ? { gid: creds.gid } : {}),
      ...groupsOption(commandGroups(creds, switchUser)),
      ...(this.options.spawn ? { native: this.options.spawn } : {}),
      // An Accept=yes instance's spawn runs off the event loop (the loop goes on accepting); any other
      // start clones at once, which gets the child exec'd sooner (ExecOptions.blocking).
      ...(ctx.handOff ? { handOff: ctx.handOff } : { blocking: true }),
      context: {
        ...this.withoutUnapplied(
          cmd.fullPrivileges
            ? this.withNamespace(withoutSandbox(execContextOf(this.unit())), false)
            : this.withNamespace(execContextOf(this.unit()), true),
        ),
        ...this.cgroupFd(),
      },
    });
  }

  /**
   * With the node launcher and --allow-unenforced-sandbox, the settings it cannot apply are left out
   * (sandbox.ts warned about them); without the opt-out they stay and the launcher refuses the process.
   */
  private withoutUnapplied(ctx: ExecContextOptions): ExecContextOptions {
    if (!this.options.allowUnenforcedSandbox) return ctx;
    const out: ExecContextOptions & { cpuAffinityFromNuma?: true } = { ...ctx };
    delete out.cpuAffinityFromNuma;
    if (!this.options.spawn) for (const key of SCHEDULING_KEYS) delete out[key];
    return out;
  }

  /**
   * The exec context with the process' mount namespace (namespace.ts; native launcher only: sandbox.ts
   * refuses the directives otherwise): every process of a unit that needs one gets one, a `+` command
   * with ReadWritePaths= only (exec-invoke.c). PrivateTmp='s directories are the run's, made at its
   * first spawn.
   */
  private withNamespace(ctx: ExecContextOptions, sandboxed: boolean): ExecContextOptions {
    const native = this.options.spawn;
    if (!native) return ctx;
    const unit = this.unit();
    const settings = namespaceSettings(unit);
    const privateTmp = wantsPrivateTmp(unit);
    if (!needsMountNamespace(settings, privateTmp)) return ctx;
    if (privateTmp) this.privateTmp ??= createPrivateTmp(unit.name);
    const tmp = sandboxed && this.privateTmp ? { tmp: this.privateTmp.tmp, varTmp: this.privateTmp.varTmp } : undefined;
    // NoNewPrivileges=yes: nosuid too (257: unless SELinux is in use, which cannot be applied here).
    const nosuid = sandboxed && ctx.noNewPrivileges === true && !selinuxInUse();
    const mounts = mountPlan(settings, { sandboxed, privateTmp: tmp, nosuid });
    const nodes = mounts.some((m) => m.op === 'inaccessible')
      ? { inaccessibleDir: ensureInaccessibleNodes(native.mknod?.bind(native)) }
      : {};
    return { ...ctx, mounts, ...nodes };
  }

  /** A control command (ExecStartPre=, ExecStop=…) with the run's environment (and `extra`), not waited for. */
  control(cmd: ExecCommand, ids: RunIds, extra: Record<string, string> = {}): ServiceChild {
    const creds = this.credentials();
    const ctx = this.controlContext();
    const env = { ...this.environment(creds, cmd, false, ctx, ids), ...extra };
    return this.spawn(cmd, env, this.workingDirectory(creds.user), creds, ctx);
  }

  /**
   * ExecStopPost= after the main process is gone (also after a failure), with systemd's
   * SERVICE_RESULT / EXIT_CODE / EXIT_STATUS, one after the other until one fails (257 runs the next
   * only after a clean exit or a `-` command: fixtures/v257/stop-failures). Returns that failure's
   * result (`success` when none failed), which becomes the run's if it has none yet.
   */
  async runStopPost(
    result: ServiceResult,
    status: ExitStatus | undefined,
    watch?: StopPostWatch,
  ): Promise<ServiceResult> {
    const unit = this.unit();
    if (unit.execStopPost.length === 0) return 'success';
    const log = this.options.logger;
    const exit = exitEnvironment(status);
    for (const cmd of unit.execStopPost) {
      try {
        const creds = this.credentials();
        const env = {
          ...buildServiceEnvironment({
            service: unit,
            activation: execResourcesEnvironment(unit, this.getsCredentials(cmd, false)),
            ...(this.options.daemonEnv ? { daemonEnv: this.options.daemonEnv } : {}),
          }),
          ...this.controlEnv,
          SERVICE_RESULT: result,
          ...exit,
        };
        const child = this.spawn(cmd, env, this.workingDirectory(creds.user), creds, this.controlContext());
        const timeout = watch?.(child);
        const s = await (timeout ? Promise.race([waitExit(child), timeout.abandoned]) : waitExit(child));
        timeout?.cancel();
        if (s === 'abandoned') return 'timeout';
        if (timeout?.timedOut()) {
          // TimeoutStopSec= ran out (service_dispatch_timer() SERVICE_STOP_POST): the command's end is
          // logged (unless clean: unit_log_process_exit() at debug), no further ExecStopPost= runs,
          // result timeout.
          if (!cleanCommandExit(unit, s)) log.warn(`Control process exited, ${describeExit(s)}`, { unit: unit.name });
          return 'timeout';
        }
        if (!cleanCommandExit(unit, s) && !cmd.ignoreFailure) {
          // unit_log_process_exit(), as 257 words it.
          log.warn(`Control process exited, ${describeExit(s)}`, { unit: unit.name });
          return resultOfUnitExit(unit, s.code, s.signal, true);
        }
      } catch (err) {
        // 257: `Failed to spawn 'stop-post' task: …`, result resources.
        log.warn(`ExecStopPost=${cmd.raw} failed: ${messageOf(err)}`, { unit: unit.name });
        return 'resources';
      }
    }
    return 'success';
  }
}

/**
 * TimeoutStopSec= for one ExecStopPost= command (257's service_enter_stop_post() arms it): set by
 * the caller when the command is spawned; `abandoned` resolves when 257 would enter dead without
 * waiting for the command any longer (SendSIGKILL=no, or processes left after the final SIGKILL).
 */
export type StopPostWatch = (child: ServiceChild) => {
  timedOut(): boolean;
  cancel(): void;
  abandoned: Promise<'abandoned'>;
};

/**
 * EXIT_CODE=/EXIT_STATUS= of the main process for ExecStop=/ExecStopPost= (service_spawn()'s
 * EXEC_SETENV_RESULT). No main process this run (a failed ExecStartPre=): 257 sets neither.
 */
export function exitEnvironment(status: ExitStatus | undefined): Record<string, string> {
  if (status === undefined) return {};
  return {
    EXIT_CODE: status.signal !== null ? 'killed' : 'exited',
    EXIT_STATUS: status.signal !== null ? status.signal.replace(/^SIG/, '') : String(status.code ?? ''),
  };
}

/**
 * The main process's fds: the socket fds, then the fd store's (service_collect_fds()). With the
 * socket as stdio (Standard{Input,Output,Error}=socket) no fd is passed at all, stored ones
 * neither: exec_invoke() sets n_socket_fds = n_storage_fds = 0 once it has a socket_fd.
 */
export function withStoredFds(ctx: StartContext, stored: ReadonlyArray<{ fd: number; name: string }>): StartContext {
  const inetd = ctx.socketStdio !== undefined;
  const fds = inetd ? [] : [...(ctx.fds ?? []), ...stored.map((s) => s.fd)];
  const fdNames = inetd ? [] : [...(ctx.fdNames ?? (ctx.fds ?? []).map(() => 'unknown')), ...stored.map((s) => s.name)];
  return {
    ...(ctx.env ? { env: ctx.env } : {}),
    ...(ctx.socketStdio !== undefined ? { socketStdio: ctx.socketStdio } : {}),
    ...(fds.length > 0 ? { fds, fdNames } : {}),
    ...(ctx.handOff ? { handOff: ctx.handOff } : {}),
  };
}
