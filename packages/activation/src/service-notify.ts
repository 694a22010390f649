/**
 * The sd_notify(3) messages a service sends (service.c service_notify_message()): who may send
 * them (NotifyAccess=), and what each field does — MAINPID=, STATUS=, ERRNO=, READY=1,
 * RELOADING=1, STOPPING=1, EXTEND_TIMEOUT_USEC=, WATCHDOG=1|trigger, WATCHDOG_USEC=, FDSTORE=1,
 * FDSTOREREMOVE=1, BARRIER=1. The state changes they cause are the receiver's.
 */
import type { ServiceUnit } from '@mptcp/unit';
import { type FdStore, fdNameValid } from './fd-store.js';
import type { Logger } from './logger.js';
import { type NotifyMessage, parsePid, parseUsec } from './notify-message.js';
import type { NotifySender } from './notify-socket.js';
import type { NotifyAccess } from './service-types.js';

/** What a notification can read and change of its service. */
export interface NotifyReceiver {
  readonly unit: ServiceUnit;
  readonly notifyAccess: NotifyAccess;
  readonly pid: number | undefined;
  readonly fdStore: FdStore;
  statusText: string | undefined;
  statusErrno: number | undefined;
}

/** The transitions a notification triggers (implemented by ServiceProcess). */
export interface NotifyActions {
  log: Logger;
  /** MAINPID=, with the sender's uid (a PID outside the service is taken only from root). */
  setMainPid(pid: number, senderUid: number): void;
  overrideWatchdog(usec: number): void;
  /** WATCHDOG=1: the watchdog is re-armed (when it runs). */
  pingWatchdog(): void;
  /** WATCHDOG=trigger: the service asks to be treated as hung. */
  triggerWatchdog(): void;
  stopping(): void;
  reloading(): void;
  ready(): void;
  extendTimeout(usec: number): void;
  closeFds(fds: readonly number[]): void;
}

function allowed(access: NotifyAccess, relation: 'main' | 'control' | 'member'): boolean {
  return access === 'all' || (access === 'main' && relation === 'main') || (access === 'exec' && relation !== 'member');
}

export function applyNotification(
  svc: NotifyReceiver,
  act: NotifyActions,
  msg: NotifyMessage,
  sender: NotifySender,
  relation: 'main' | 'control' | 'member',
  fds: number[],
): void {
  const { log } = act;
  const unit = svc.unit.name;
  const access = svc.notifyAccess;
  if (!allowed(access, relation)) {
    if (access === 'none')
      log.warn(`Got notification message from PID ${sender.pid}, but reception is disabled.`, { unit });
    else if (access === 'main')
      log.warn(
        `Got notification message from PID ${sender.pid}, but reception only permitted for main PID ${svc.pid ?? 'n/a'}`,
        { unit },
      );
    else
      log.warn(
        `Got notification message from PID ${sender.pid}, but reception only permitted for main PID and control PID`,
        { unit },
      );
    act.closeFds(fds);
    return;
  }
  const f = msg.fields;
  let keep: number[] = [];
  // PID 1 parses (257 then refuses it as the manager); parsePid() leaves it out.
  const mainPid = f.get('MAINPID') === '1' ? 1 : parsePid(f.get('MAINPID'));
  if (f.has('MAINPID') && mainPid === undefined)
    log.warn(`Failed to parse MAINPID=${f.get('MAINPID')} field in notification message, ignoring.`, { unit });
  if (mainPid !== undefined && mainPid !== svc.pid) act.setMainPid(mainPid, sender.uid);
  if (f.get('STATUS') !== undefined) svc.statusText = (f.get('STATUS') as string).slice(0, 16 * 1024);
  const errno = f.get('ERRNO');
  if (errno !== undefined) svc.statusErrno = /^\d+$/.test(errno) ? Number(errno) : undefined;
  const wdUsec = parseUsec(f.get('WATCHDOG_USEC'));
  if (wdUsec !== undefined) act.overrideWatchdog(wdUsec);
  if (f.get('STOPPING') === '1') act.stopping();
  if (f.get('RELOADING') === '1') act.reloading();
  if (f.get('READY') === '1') act.ready();
  const extend = parseUsec(f.get('EXTEND_TIMEOUT_USEC'));
  if (extend !== undefined) act.extendTimeout(extend);
  const wd = f.get('WATCHDOG');
  if (wd === '1') act.pingWatchdog();
  else if (wd === 'trigger') act.triggerWatchdog();
  // FDSTOREREMOVE=1 wins over FDSTORE=1 in one message (the fds of such a message are closed).
  if (f.get('FDSTOREREMOVE') === '1') {
    const name = f.get('FDNAME');
    if (name === undefined || !fdNameValid(name))
      log.warn('FDSTOREREMOVE=1 requested, but no valid file descriptor name passed, ignoring.', { unit });
    else svc.fdStore.remove(name);
  } else if (f.get('FDSTORE') === '1') {
    let name = f.get('FDNAME');
    if (name !== undefined && !fdNameValid(name)) {
      // Stored all the same, under the default name.
      log.warn('Passed FDNAME= name is invalid, ignoring.', { unit });
      name = undefined;
    }
    // FileDescriptorStoreMax=0 is a full store: 257 warns "Cannot store more fds than … =0".
    svc.fdStore.add(fds, name ?? 'stored', f.get('FDPOLL') !== '0', svc.unit.fileDescriptorStoreMax ?? 0);
    keep = fds;
  } else if (fds.length > 0 && f.get('BARRIER') !== '1') {
    // 257 closes them without a word at the default log level.
    log.debug('Got extra file descriptors via notification, closing.', { unit });
  }
  // BARRIER=1: closing its fd (below) is the answer the sender waits for.
  act.closeFds(fds.filter((fd) => !keep.includes(fd)));
}
