/**
 * Every error @mptcp/native throws is an MptcpNativeError: `code` the errno name (or one of ours),
 * `errno` always the positive Linux number (0 for our own codes), as Node's SystemError has them.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  MptcpNativeError,
  MptcpSocketError,
  ProcessSpawnError,
  SpliceRelayError,
  fdOf,
  spawnProcess,
} from '../src/index.js';
import { syscallError } from '../src/errors.js';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

describe('MptcpNativeError', () => {
  it('a failed syscall: MptcpSocketError, code the name, errno the number', () => {
    const err = syscallError(-111, { syscall: 'connect', address: '127.0.0.1', port: 9 });
    expect(err).toBeInstanceOf(MptcpSocketError);
    expect(err).toBeInstanceOf(MptcpNativeError);
    expect(err).toMatchObject({ code: 'ECONNREFUSED', errno: 111, syscall: 'connect', port: 9 });
  });

  it('EBADF from fdOf() of a socket without an fd', () => {
    const err = thrown(() => fdOf(new net.Socket()));
    expect(err).toBeInstanceOf(MptcpSocketError);
    expect(err).toMatchObject({ code: 'EBADF', errno: 9 });
  });

  it('a spawn failure is a ProcessSpawnError, not an MptcpSocketError', () => {
    const err = thrown(() => spawnProcess({ file: '/nonexistent/v-errors', argv: ['x'], envp: [], fds: [] }));
    expect(err).toBeInstanceOf(ProcessSpawnError);
    expect(err).toBeInstanceOf(MptcpNativeError);
    expect(err).not.toBeInstanceOf(MptcpSocketError);
    expect(err).toMatchObject({ code: 'ENOENT', errno: 2, syscall: 'execve' });
  });

  it('SpliceRelayError carries the errno and the bytes moved', () => {
    const err = new SpliceRelayError(104, 10, 20);
    expect(err).toBeInstanceOf(MptcpSocketError);
    expect(err).toMatchObject({ name: 'SpliceRelayError', code: 'ECONNRESET', errno: 104, aToB: 10, bToA: 20 });
  });

  it('an errno-named code given without a number gets it; our own codes have errno 0', () => {
    expect(new MptcpSocketError({ code: 'EIO', message: 'x' }).errno).toBe(5);
    expect(new MptcpSocketError({ code: 'MPTCP_OPTION_UNSUPPORTED', message: 'x' }).errno).toBe(0);
    expect(new MptcpSocketError({ code: 'ENOTFOUND', message: 'x' }).errno).toBe(0);
  });
});
