/**
 * @mptcp/native — Multipath TCP sockets for Node.js: a thin C++ addon creates the sockets, node:net
 * runs them. See README.md.
 */
export const PACKAGE = '@mptcp/native';

export type * from './types.js';
export {
  MptcpNativeError,
  MptcpSocketError,
  ProcessSpawnError,
  errnoName,
  errnoMessage,
  type MptcpErrorCode,
} from './errors.js';
export { mptcpSupport } from './support.js';
export {
  effectiveMode,
  nodeMptcp,
  fallbackReason,
  createSocket,
  wantsMptcp,
  NODE_MPTCP_DEFAULTS,
  type Role,
  type NodeMptcpValue,
  type SocketRequest,
  type CreatedSocket,
} from './policy.js';
export { createServer, listen, type MptcpListenOptions, type MptcpServerOptions } from './server.js';
export { connect, type MptcpConnectOptions, type LookupFunction } from './client.js';
export { withMptcp, mptcpListen, type ListenPolicy } from './server.js';
export {
  createHttpServer,
  createHttpsServer,
  createHttp2Server,
  createSecureHttp2Server,
  MptcpHttpAgent,
  MptcpHttpsAgent,
  connectTls,
  type WithMptcpMode,
} from './http.js';
export {
  mptcpSocketOptions,
  SOCKET_OPTIONS,
  type MptcpSocketOptions,
  type SocketOptionRow,
  type SocketOptionSupport,
} from './socket-options.js';
export {
  isMptcp,
  mptcpStatus,
  mptcpInfo,
  subflows,
  decodeMptcpInfo,
  decodeTcpInfo,
  type SubflowsOptions,
} from './status.js';
export { openSocket, openStreamListeners } from './open-socket.js';
export { readSmallFiles, reserveFds, trimMallocHeap, setV8Flags } from './startup.js';
export {
  watchReadable,
  watchWritable,
  watchEvents,
  type FdEvents,
  type FdWatcher,
  type WatchCallback,
} from './watch.js';
export {
  accept,
  close,
  sockName,
  peerName,
  socketProtocol,
  socketDomain,
  socketType,
  isListening,
  setNonBlocking,
  setCloexec,
  fdFlags,
  dup3,
  peerCredentials,
  getSocketOption,
  getSocketOptionBytes,
  setSocketOption,
  sendDatagram,
  listenUnixStream,
  connectUnixStream,
  shutdownWrite,
} from './primitives.js';
export { openPidfd, pidfdExit, pidfdPid, pidfdSupported, type PidfdExit } from './pidfd.js';
export {
  receiveDatagram,
  passPidfd,
  sendDatagramWithFds,
  datagramAncillarySupported,
  socketPair,
  type ReceivedDatagram,
} from './datagram.js';
export {
  spawnProcess,
  spawnCgroupSupported,
  spawnProcessAsync,
  MAX_ID,
  watchExit,
  reapPid,
  killPid,
  killProcessGroup,
  RLIMIT_RESOURCES,
  RLIM_INFINITY,
  type RlimitResource,
  type RlimitValue,
  type SpawnProcessOptions,
  type MountStep,
  type SpawnedProcess,
  type ProcessExit,
  type ExitWatch,
} from './spawn.js';
export {
  acceptSpawnStart,
  acceptSpawnSupported,
  acceptSpawnAdd,
  acceptSpawnRemove,
  acceptSpawnRelease,
  acceptSpawnKill,
  CONNECTION_FD,
  type AcceptSpawnEvent,
  type AcceptSpawnLimits,
  type AcceptSpawnPending,
  type AcceptSpawnTemplate,
  type RateWindow,
} from './accept-spawn.js';
export { netlinkRequest, netlinkRequestAsync, netlinkSubscribe } from './netlink.js';
export {
  spliceRelay,
  spliceRelayAvailable,
  detachSocket,
  SpliceRelayError,
  type SpliceRelayOptions,
  type SpliceRelayResult,
} from './relay.js';
export { mknod, mkfifo, type NodeType, type MknodOptions } from './mknod.js';
export {
  watchHangup,
  sameOpenFile,
  fdStorePrimitivesSupported,
  duplicateFd,
  type HangupWatch,
  type HangupCallback,
  type HangupEvent,
} from './fd-hangup.js';
export {
  useMptcpWritePath,
  writePathRetries,
  writePathDisabled,
  useMptcpBulkTuning,
  bulkTuningStats,
  bulkTuningDisabled,
  bulkTuningFor,
  sendTuningFor,
  bulkReceiveBuffer,
  bulkPresetEnabled,
  DEFAULT_BULK_RCVBUF,
  presetBulkReceiveBuffer,
  presetBulkSendBuffer,
  bulkSendBuffer,
  type WritePathOptions,
  type BulkTuningOptions,
} from './write-path.js';
export {
  useMptcpReadPath,
  readPathStats,
  readPathDisabled,
  readPathBufferSize,
  DEFAULT_READ_BUFFER,
  type ReadPathOptions,
  type ReadPathStats,
} from './read-path.js';
export { fdOf, tryFdOf, type FdLike } from './fd.js';
export { decodeSockAddr, formatSockAddr } from './sockaddr.js';
export { bindingAvailable, sysconst } from './binding.js';
