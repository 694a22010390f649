/**
 * @mptcp/activation: a systemd-compatible socket-activation engine for Node.js. The service-side
 * helper lives in the light entry point `@mptcp/activation/listen-fds`.
 */
export { ActivationEngine, serviceNameOf, socketIdentity, type EngineOptions } from './engine.js';
export type * from './engine-types.js';
export { ActivationError, type ActivationErrorCode } from './errors.js';
export { consoleLogger, silentLogger, unitStatusString, type Logger, type LogLevel, type LogFields } from './logger.js';
export { JOB_FAILURE_EXPLANATIONS, failedToStartLine, jobFailedMessage } from './job-messages.js';
export { RateLimit } from './rate-limit.js';
export { ConnectionLimits, type Admission } from './connection-limits.js';
export {
  connectionInstance,
  instanceServiceName,
  templateNameFor,
  templatePrefix,
  remoteEnvironment,
  prettyAddress,
  sourceKey,
} from './instance-name.js';
export {
  buildServiceEnvironment,
  listenEnvironment,
  DEFAULT_PATH,
  LOCALE_VARS,
  type ServiceEnvironmentInput,
} from './environment.js';
export { expandArgv } from './exec-expand.js';
export {
  prepareExec,
  planExec,
  planNodeExec,
  resolveProgram,
  execCommand,
  waitExit,
  type ExecOptions,
  type ExecPlan,
  type ExitStatus,
  type OutputMode,
  type PreparedExec,
  type ServiceChild,
  type NativeSpawn,
  type SpawnMethod,
} from './exec.js';
export {
  ServiceProcess,
  effectiveNotifyAccess,
  type NotifyAccess,
  type OutputCapture,
  type ServiceState,
  type ServiceSubState,
  type ServiceSnapshot,
  type ServiceExit,
  type StartContext,
} from './service-process.js';
export { resultOfExit, shallRestart, restartDelayUsec, type ServiceResult } from './restart-policy.js';
export { NotifySocket, sessionOf, type NotifySender, type NotifyTarget } from './notify-socket.js';
export { parseNotifyMessage, type NotifyMessage } from './notify-message.js';
export { FdStore, fdNameValid, type StoredFd, type FdStorePrimitives, type HangupWatchLike } from './fd-store.js';
export { LogCapture, loggerSink, type ServiceOutputLine, type ServiceOutputSink } from './output-capture.js';
export { openPorts, closePorts, protocolFor, openSocketSpec, type OpenedPort, type Transport } from './open-listen.js';
export { formatSockAddr, toSockAddr } from './listen-address.js';
export { loadNative, adaptNative, nativeSpawnDisabled, type NativeApi, type ReadableWatch } from './native-binding.js';
export { defaultTemplateResolver, substituteInstance, unescapeInstance, type TemplateResolver } from './templates.js';
export { fnmatch, fnmatchBytes, type FnmatchFlags } from './fnmatch.js';
export { expandBraces, glob, globExists } from './glob.js';
export { clearUserCache, useUserDatabase, type UserDatabase } from './user.js';
export {
  listenFds,
  activatedSockets,
  isDatagramSocket,
  LISTEN_FDS_START,
  ListenFdsError,
  type ListenFd,
  type ListenFdsOptions,
  type ActivatedSockets,
  type ActivatedSocketsOptions,
} from './listen-fds.js';
export {
  commandOf,
  listenFdNames,
  runSocketActivate,
  socketActivateEnvironment,
  statusOf,
  type SocketActivateOptions,
} from './socket-activate.js';
export { loadEngineUnits, type LoadedEngineUnits } from './load-units.js';
export {
  CgroupTree,
  DAEMON_LEAF,
  TREE_PREFIX,
  UnitCgroup,
  detectCgroups,
  ownCgroupDir,
  reapCgroups,
  treeName,
  type CgroupDetection,
} from './cgroup.js';
