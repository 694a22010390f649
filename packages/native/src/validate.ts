/**
 * Argument checks with node:net's error codes and messages (lib/internal/validators.js,
 * lib/internal/errors.js of Node 20): programming errors are thrown synchronously, as net does;
 * errno codes are kept for failed syscalls.
 */
import { inspect } from 'node:util';
import type { MptcpMode } from './types.js';

type NodeErrorCtor = typeof Error | typeof TypeError | typeof RangeError;

/** An error shaped as Node's internal ones: name 'TypeError' (…), a `code`, and "Name [CODE]" in its stack. */
export function nodeError(Ctor: NodeErrorCtor, code: string, message: string): Error & { code: string } {
  const err = new Ctor(message) as Error & { code: string };
  Object.defineProperty(err, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  if (err.stack) err.stack = err.stack.replace(/^\w*Error/, `${err.name} [${code}]`);
  return err;
}

// node:net's isIP() with lib/internal/net.js's expressions (Node 20), here so that loading these
// checks does not load node:net (an idle mptcpd-lite daemon must not: test/run-bundle in its app).
const V4_SEG = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const V4_STR = `(?:${V4_SEG}\\.){3}${V4_SEG}`;
const IPV4 = new RegExp(`^${V4_STR}$`);
const V6_SEG = '(?:[0-9a-fA-F]{1,4})';
const IPV6 = new RegExp(
  '^(?:' +
    `(?:${V6_SEG}:){7}(?:${V6_SEG}|:)|` +
    `(?:${V6_SEG}:){6}(?:${V4_STR}|:${V6_SEG}|:)|` +
    `(?:${V6_SEG}:){5}(?::${V4_STR}|(?::${V6_SEG}){1,2}|:)|` +
    `(?:${V6_SEG}:){4}(?:(?::${V6_SEG}){0,1}:${V4_STR}|(?::${V6_SEG}){1,3}|:)|` +
    `(?:${V6_SEG}:){3}(?:(?::${V6_SEG}){0,2}:${V4_STR}|(?::${V6_SEG}){1,4}|:)|` +
    `(?:${V6_SEG}:){2}(?:(?::${V6_SEG}){0,3}:${V4_STR}|(?::${V6_SEG}){1,5}|:)|` +
    `(?:${V6_SEG}:){1}(?:(?::${V6_SEG}){0,4}:${V4_STR}|(?::${V6_SEG}){1,6}|:)|` +
    `(?::(?:(?::${V6_SEG}){0,5}:${V4_STR}|(?::${V6_SEG}){1,7}|:))` +
    ')(?:%[0-9a-zA-Z-.:]{1,})?$',
);

/** node:net isIP(): 4, 6 or 0. */
export function isIP(s: string): 0 | 4 | 6 {
  return IPV4.test(s) ? 4 : IPV6.test(s) ? 6 : 0;
}

/** lib/internal/errors.js determineSpecificType(). */
function received(value: unknown): string {
  if (value == null) return String(value);
  if (typeof value === 'function' && value.name) return `function ${value.name}`;
  if (typeof value === 'object') {
    const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
    if (ctor) return `an instance of ${ctor}`;
    return inspect(value, { depth: -1 });
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `type ${typeof value} (${shown})`;
}

/** ERR_INVALID_ARG_TYPE; `expected` as Node words it: 'of type string', 'an instance of AbortSignal'. */
export function invalidArgType(name: string, expected: string, value: unknown): Error & { code: string } {
  const what = name.includes('.') ? 'property' : 'argument';
  return nodeError(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" ${what} must be ${expected}. Received ${received(value)}`,
  );
}

/** ERR_INVALID_ARG_VALUE. */
export function invalidArgValue(name: string, value: unknown, reason = 'is invalid'): Error & { code: string } {
  const what = name.includes('.') ? 'property' : 'argument';
  let shown = inspect(value);
  if (shown.length > 128) shown = `${shown.slice(0, 128)}...`;
  return nodeError(TypeError, 'ERR_INVALID_ARG_VALUE', `The ${what} '${name}' ${reason}. Received ${shown}`);
}

/**
 * validatePort(): a number or numeric string 0…65535 (integral), as net; returns the number.
 * Throws ERR_SOCKET_BAD_PORT (RangeError) otherwise.
 */
export function validatePort(port: unknown, name = 'Port'): number {
  if (
    (typeof port !== 'number' && typeof port !== 'string') ||
    (typeof port === 'string' && port.trim().length === 0) ||
    +port !== +port >>> 0 ||
    +port > 0xffff
  ) {
    throw nodeError(
      RangeError,
      'ERR_SOCKET_BAD_PORT',
      `${name} should be >= 0 and < 65536. Received ${received(port)}.`,
    );
  }
  return +port | 0;
}

/**
 * The `mptcp` option: 'require', 'prefer', 'off', false, or true (= 'prefer', MPTCP with a fallback
 * to TCP, as Go's SetMultipathTCP(true)); undefined stays undefined. Anything else throws
 * ERR_INVALID_ARG_VALUE: a typo must not silently give plain TCP.
 */
export function validateMptcp(value: unknown, name = 'options.mptcp'): MptcpMode | undefined {
  if (value === undefined) return undefined;
  if (value === true) return 'prefer';
  if (value === 'require' || value === 'prefer' || value === 'off' || value === false) return value;
  throw invalidArgValue(name, value, "must be one of: 'require', 'prefer', 'off', true, false");
}

/** validateAbortSignal(). */
export function validateSignal(signal: unknown, name: string): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (signal === null || typeof signal !== 'object' || !('aborted' in signal)) {
    throw invalidArgType(name, 'an instance of AbortSignal', signal);
  }
  return signal as AbortSignal;
}

/** The checks net.connect() makes before it dials (lookupAndConnect, Socket.connect). */
export function validateConnectOptions(options: unknown): void {
  if (options === undefined || options === null) {
    throw nodeError(TypeError, 'ERR_MISSING_ARGS', 'The "options" or "port" or "path" argument must be specified');
  }
  if (typeof options !== 'object') {
    throw invalidArgType('options', 'of type object', options);
  }
  const o = options as Record<string, unknown>;
  if (o['port'] === undefined) {
    throw nodeError(TypeError, 'ERR_MISSING_ARGS', 'The "options" or "port" or "path" argument must be specified');
  }
  if (typeof o['port'] !== 'number' && typeof o['port'] !== 'string') {
    throw invalidArgType('options.port', 'one of type number or string', o['port']);
  }
  validatePort(o['port']);
  // net: `options.host || 'localhost'`; a non-string host reaches dns.lookup()'s check.
  const host = o['host'];
  if (host && typeof host !== 'string') throw invalidArgType('hostname', 'of type string', host);
  const localAddress = o['localAddress'];
  if (localAddress && (typeof localAddress !== 'string' || !isIP(localAddress))) {
    throw nodeError(TypeError, 'ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${String(localAddress)}`);
  }
  const localPort = o['localPort'];
  if (localPort) {
    if (typeof localPort !== 'number') throw invalidArgType('options.localPort', 'of type number', localPort);
    validatePort(localPort, 'options.localPort');
  }
  const family = o['family'];
  if (family !== undefined && family !== 0 && family !== 4 && family !== 6) {
    throw nodeError(
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      `The property 'options.family' must be one of: 0, 4, 6. Received ${inspect(family)}`,
    );
  }
  if (o['lookup'] != null && typeof o['lookup'] !== 'function') {
    throw invalidArgType('options.lookup', 'of type function', o['lookup']);
  }
  const timeout = o['timeout'];
  if (timeout !== undefined) {
    if (typeof timeout !== 'number') throw invalidArgType('options.timeout', 'of type number', timeout);
    if (!(timeout >= 0) || !Number.isFinite(timeout)) {
      throw nodeError(
        RangeError,
        'ERR_OUT_OF_RANGE',
        `The value of "options.timeout" is out of range. It must be a non-negative finite number. Received ${inspect(timeout)}`,
      );
    }
  }
  validateSignal(o['signal'], 'options.signal');
}
