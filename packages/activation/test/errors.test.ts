/**
 * @mptcp/activation's thrown errors are ActivationErrors with a stable `code` and, for a failed system
 * call, `errno` as the positive Linux number (as Node's SystemError and @mptcp/native's errors).
 */
import net from 'node:net';
import { errnoName } from '@mptcp/constants';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationError, runSocketActivate } from '../src/index.js';
import { readEnvironmentFiles } from '../src/environment-file.js';
import { errnoNumberOf, errnoOf } from '../src/errors.js';
import { clearUserCache, resolveUser } from '../src/user.js';

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('did not reject');
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

afterEach(() => clearUserCache());

describe('ActivationError', () => {
  it('SOCKET_OPEN_FAILED: a bound port refuses a second listener; errno 98 (EADDRINUSE), a number', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    try {
      const err = await rejection(
        runSocketActivate({ listen: [`127.0.0.1:${port}`], command: ['true'], env: {}, spawn: 'node' }),
      );
      expect(err).toBeInstanceOf(ActivationError);
      expect(err).toMatchObject({ name: 'ActivationError', code: 'SOCKET_OPEN_FAILED', errno: 98 });
      expect(errnoName((err as ActivationError).errno ?? 0)).toBe('EADDRINUSE');
    } finally {
      holder.close();
    }
  });

  it('UNSUPPORTED_LISTEN and EXEC_FAILED need no system call: no errno', async () => {
    const a = await rejection(runSocketActivate({ listen: ['x'], command: ['true'], datagram: true, accept: true }));
    const b = await rejection(runSocketActivate({ listen: ['2000'], command: [] }));
    expect(a).toMatchObject({ code: 'UNSUPPORTED_LISTEN', errno: undefined });
    expect(b).toMatchObject({ code: 'EXEC_FAILED', errno: undefined });
    for (const e of [a, b]) expect(e).toBeInstanceOf(ActivationError);
  });

  it('ENVIRONMENT_FILE: a missing file is ENOENT, errno 2', () => {
    const err = thrown(() =>
      readEnvironmentFiles([{ path: '/nonexistent/v-errors.env', optional: false }], 'a.service'),
    );
    expect(err).toBeInstanceOf(ActivationError);
    expect(err).toMatchObject({ code: 'ENVIRONMENT_FILE', errno: 2, unit: 'a.service' });
  });

  it('USER_NOT_FOUND: ESRCH, errno 3 (get_user_creds(): no passwd entry; the step line prints its strerror)', () => {
    const err = thrown(() => resolveUser('v-no-such-user-7c1', 'a.service'));
    expect(err).toBeInstanceOf(ActivationError);
    expect(err).toMatchObject({ code: 'USER_NOT_FOUND', errno: 3 });
  });

  it('errnoOf gives the name, errnoNumberOf the positive number, of Node and addon errors alike', () => {
    const nodeErr = Object.assign(new Error('x'), { code: 'ECONNREFUSED', errno: -111 });
    expect(errnoOf(nodeErr)).toBe('ECONNREFUSED');
    expect(errnoNumberOf(nodeErr)).toBe(111);
    expect(errnoNumberOf('EEXIST')).toBe(17);
    expect(errnoNumberOf(new Error('no code'))).toBeUndefined();
    expect(errnoNumberOf({ code: 'SOCKET_OPEN_FAILED' })).toBeUndefined();
  });
});
