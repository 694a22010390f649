export * from './model.js';
export { formatDiagnostic } from './diagnostics.js';
export {
  PATH_CONDITION_TYPES,
  STRING_CONDITION_TYPES,
  UNSUPPORTED_CONDITION_TYPES,
  UNSUPPORTED_SECURITY_VALUES,
} from './conditions.js';
export { parseUnitText, type ParseUnitTextOptions, type ParseUnitResult, type ParseOptions } from './parse.js';
export {
  parseSyntax,
  LONG_LINE_MAX,
  type Assignment,
  type SyntaxOptions,
  type SyntaxResult,
  type SectionClass,
} from './syntax.js';
export {
  parseSocketAddress,
  parseNetlinkAddress,
  printSocketAddress,
  NETLINK_FAMILIES,
  type AddressOptions,
} from './address.js';
export { sysfsInterfaceResolver, staticInterfaceResolver, type InterfaceResolver } from './interfaces.js';
export {
  expandSpecifiers,
  machineHostFacts,
  TEST_HOST_FACTS,
  type HostFacts,
  type SpecifierContext,
} from './specifiers.js';
export { expandExecCommand, parseExecValue, pathSimplify } from './exec.js';
export { extractFirstWord, type ExtractFlags, type ExtractResult } from './quoting.js';
export { parseEnvironmentFile, type EnvFileResult } from './environment.js';
export { parseUnitName, templateOf, escapeUnitName, unescapeUnitPath, type UnitName } from './unit-name.js';
export { parseBoolean } from './values/boolean.js';
export { parseIPv4, parseIPv6 } from './inet.js';
export { parseNice, parseOomScoreAdjust, parseRlimit } from './values/exec-limits.js';
export {
  EXIT_STATUS_NAMES,
  badExitStatusWords,
  exitStatusSet,
  exitStatusSetHas,
  parseExitStatusWord,
  type ExitStatusSet,
} from './values/exit-status.js';
export {
  checkSchedulingValue,
  ioprioNormalize,
  IOPRIO_DEFAULT,
  NSEC_INFINITY,
  parseCoredumpFilter,
  parseCpuSet,
  parseIoprioClass,
  parseIoprioPriority,
  parseNsec,
  parsePersonality,
  parseSchedPolicy,
  parseSchedPriority,
  schedPriorityRange,
} from './values/exec-scheduling.js';
export { parseSec, parseSecFix0, parseTime, USEC_INFINITY, type Timespan } from './values/timespan.js';
export { parseSize } from './values/size.js';
export { parseUnsigned, parseInteger, parseIpPort, parseMode } from './values/integer.js';
export { parseIpTos, parseBindIPv6Only } from './values/enums.js';
export { strerror, type Errno, type Parsed } from './errno.js';
export { UnitError, type UnitErrorCode } from './errors.js';
export {
  loadUnitFile,
  loadUnitDirectories,
  loadServiceInstance,
  serviceNameFor,
  findDropIns,
  findUnitFile,
  dropInDirNames,
  isMaskFile,
  isHiddenOrBackupFile,
  searchPathListing,
  type SearchPathListing,
  type LoadOptions,
  type LoadDirectoriesOptions,
  type LoadUnitResult,
  type LoadedUnits,
} from './loader.js';
export { verify, type VerifyOptions, type VerifyResult } from './verify.js';
export { printSocketUnit, printServiceUnit, formatListenValue } from './print.js';
export { socketOptionValues } from './directives.js';
