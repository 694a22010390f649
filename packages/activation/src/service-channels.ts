/**
 * What every service of an engine shares with the daemon: the notify socket (NOTIFY_SOCKET) and the
 * capture of stdout/stderr into the log, and the options each ServiceProcess is built with. The
 * socket side of the engine knows nothing of them.
 */
import type { CgroupTree } from './cgroup.js';
import { messageOf } from './errors.js';
import type { OutputMode, SpawnMethod } from './exec.js';
import type { Logger } from './logger.js';
import type { NativeApi } from './native-binding.js';
import { NotifySocket } from './notify-socket.js';
import { LogCapture, type ServiceOutputSink } from './output-capture.js';
import type { ServiceProcessOptions } from './service-process.js';

export interface ServiceChannelOptions {
  /** `@abstract` or a path; default a fresh abstract address; false: no notify socket. */
  notifySocket?: string | false;
  serviceOutput?: OutputMode;
  daemonEnv?: NodeJS.ProcessEnv;
  spawn?: SpawnMethod;
  /** Where captured service output lines go (default: the logger, marked `output: true`). */
  onServiceOutput?: ServiceOutputSink;
  /** See ServiceProcessOptions.allowUnenforcedSandbox. */
  allowUnenforcedSandbox?: boolean;
  /** See ServiceProcessOptions.cgroups. */
  cgroups?: CgroupTree;
}

export class ServiceChannels {
  notify: NotifySocket | undefined;
  capture: LogCapture | undefined;

  constructor(
    private readonly log: Logger,
    private readonly options: ServiceChannelOptions,
  ) {}

  /** Opens the notify socket and the output capture, when the addon can do them. */
  open(native: NativeApi): void {
    const wanted = this.options.notifySocket !== false;
    if (!this.notify && wanted && NotifySocket.supported(native)) {
      const n = new NotifySocket(native, this.log, this.options.notifySocket || undefined);
      try {
        n.open();
        this.notify = n;
      } catch (err) {
        this.log.warn(`Cannot open the notify socket ${n.address}: ${messageOf(err)}; services get no NOTIFY_SOCKET.`);
      }
    } else if (wanted && !NotifySocket.supported(native)) {
      this.log.warn(
        '@mptcp/native cannot receive credentials (addon without recvWithCredentials): services get no NOTIFY_SOCKET.',
      );
    }
    if (!this.capture && this.options.serviceOutput === 'log' && LogCapture.supported(native))
      this.capture = new LogCapture(native, this.log, this.options.onServiceOutput);
  }

  /** How services are run: output, locale source, notify socket, and the native launcher when the addon has one. */
  processOptions(native: NativeApi | undefined): ServiceProcessOptions {
    const spawn = this.options.spawn === 'node' ? undefined : native?.spawn;
    const output = this.options.serviceOutput ?? 'inherit';
    return {
      logger: this.log,
      // `log` without a capture (old addon): the services' output goes where the daemon's does.
      output: output === 'log' && !this.capture ? 'inherit' : output,
      ...(this.options.daemonEnv ? { daemonEnv: this.options.daemonEnv } : {}),
      ...(spawn ? { spawn } : {}),
      ...(this.notify ? { notify: this.notify } : {}),
      ...(this.capture ? { capture: this.capture } : {}),
      ...(native ? { closeFd: (fd: number) => native.close(fd) } : {}),
      ...(native?.fdStore ? { fdStore: native.fdStore } : {}),
      ...(native?.dup ? { dupFd: native.dup } : {}),
      ...(native?.pidfd ? { pidfd: native.pidfd } : {}),
      ...(this.options.allowUnenforcedSandbox ? { allowUnenforcedSandbox: true } : {}),
      // The child joins its cgroup in the native launcher only.
      ...(spawn && native?.spawnCgroup && this.options.cgroups ? { cgroups: this.options.cgroups } : {}),
    };
  }

  /** Whether services are tracked by cgroups (see processOptions()). */
  cgroupsFor(native: NativeApi | undefined): boolean {
    return (
      this.options.cgroups !== undefined &&
      this.options.spawn !== 'node' &&
      native?.spawn !== undefined &&
      native.spawnCgroup === true
    );
  }

  close(): void {
    this.notify?.close();
    this.notify = undefined;
    this.capture?.close();
    this.capture = undefined;
  }
}
