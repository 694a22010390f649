/**
 * mptcpd-lite's own thrown errors share one base class with a stable `code`; an errno-named code comes
 * with the positive errno number (as Node's SystemError). The README's "Errors" table lists these.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errnoNumber } from '@mptcp/constants';
import { describe, expect, it } from 'vitest';
import { ensureControlDir } from '../src/control/server.js';
import { OtherManagerError } from '../src/endpoints/auto.js';
import { MptcpdLiteError } from '../src/errors.js';
import { CliError, EXIT_ERROR, EXIT_FAILURE } from '../src/exit-codes.js';
import { NLMSG_ERROR, NetlinkError, decodeMessages, encodeMessage } from '../src/netlink/message.js';

describe('MptcpdLiteError codes', () => {
  it('a netlink error reply is a NetlinkError: code the errno name, errno the positive number', () => {
    const payload = Buffer.alloc(20);
    payload.writeInt32LE(-17, 0); // -EEXIST, as the kernel sends it
    let err: unknown;
    try {
      decodeMessages([encodeMessage(NLMSG_ERROR, 0, payload)], 'add endpoint 10.0.0.1');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err).toBeInstanceOf(MptcpdLiteError);
    expect(err).toMatchObject({
      name: 'NetlinkError',
      code: 'EEXIST',
      errno: 17,
      message: 'add endpoint 10.0.0.1: EEXIST',
    });
    expect((err as NetlinkError).errno).toBe(errnoNumber('EEXIST'));
  });

  it('OtherManagerError is ENDPOINT_MANAGER_CONFLICT', () => {
    const err = new OtherManagerError('--endpoints auto: refusing to manage MPTCP endpoints: mptcpd runs');
    expect(err).toBeInstanceOf(MptcpdLiteError);
    expect(err).toMatchObject({ name: 'OtherManagerError', code: 'ENDPOINT_MANAGER_CONFLICT' });
  });

  it('a control directory that is a symlink is refused with ELOOP (errno 40)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mptcpd-lite-errors-'));
    try {
      mkdirSync(join(dir, 'real'), { mode: 0o700 });
      symlinkSync(join(dir, 'real'), join(dir, 'link'));
      let err: unknown;
      try {
        ensureControlDir(join(dir, 'link'));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MptcpdLiteError);
      expect(err).toMatchObject({ code: 'ELOOP', errno: 40 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every other thrown error of the app is an MptcpdLiteError; errno-named codes carry the number', () => {
    expect(new MptcpdLiteError('EBUSY', 'cannot reload while stopping')).toMatchObject({ code: 'EBUSY', errno: 16 });
    expect(new MptcpdLiteError('UNIT_NOT_FOUND', 'Unit a.socket not found.').errno).toBeUndefined();
    expect(new MptcpdLiteError('MPTCP_ADDON_UNAVAILABLE', 'x').errno).toBeUndefined();
  });

  it('CliError keeps the code of what failed, else CLI_ERROR', () => {
    const a = new CliError('x: refused', EXIT_ERROR, 'ECONNREFUSED');
    const b = new CliError('no such unit', EXIT_FAILURE);
    for (const e of [a, b]) expect(e).toBeInstanceOf(MptcpdLiteError);
    expect(a).toMatchObject({ name: 'CliError', code: 'ECONNREFUSED', exitCode: EXIT_ERROR, message: 'x: refused' });
    expect(b).toMatchObject({ code: 'CLI_ERROR', exitCode: EXIT_FAILURE });
  });
});
