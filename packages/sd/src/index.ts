/**
 * @mptcp/sd: what a Node service needs to speak the systemd protocols with any manager
 * (systemd, systemd-socket-activate, mptcpd-lite) — sd_listen_fds, sd_notify, the watchdog and
 * the fd store — without libsystemd. Only notify() loads @mptcp/native (lazily).
 */
export { SdError, type SdErrorCode } from './errors.js';
export {
  LISTEN_FDS_START,
  ListenFdsError,
  activatedSockets,
  isDatagramSocket,
  listenFds,
  type ActivatedSockets,
  type ActivatedSocketsOptions,
  type ListenFd,
  type ListenFdsOptions,
} from './listen-fds.js';
export {
  NotifyError,
  barrier,
  formatNotify,
  monotonicUsec,
  notify,
  notifySocket,
  ready,
  removeStoredFds,
  storeFds,
  type NotifyOptions,
  type NotifyState,
} from './notify.js';
export {
  watchdog,
  watchdogEnabled,
  type Watchdog,
  type WatchdogEnabledOptions,
  type WatchdogOptions,
} from './watchdog.js';
