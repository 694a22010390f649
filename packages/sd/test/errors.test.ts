/** Every error @mptcp/sd throws is an SdError with a stable code (the list the README documents). */
import { describe, expect, it } from 'vitest';
import { ListenFdsError, NotifyError, SdError, formatNotify, listenFds, notifySocket } from '../src/index.js';

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

describe('SdError codes', () => {
  it.each([
    ['LISTEN_FDS_INVALID', ListenFdsError, () => listenFds({ env: { LISTEN_PID: 'x' } })],
    ['LISTEN_FDS_INVALID', ListenFdsError, () => listenFds({ env: { LISTEN_PID: '7', LISTEN_FDS: 'y' }, pid: 7 })],
    [
      'LISTEN_PID_MISMATCH',
      ListenFdsError,
      () => listenFds({ env: { LISTEN_PID: '7', LISTEN_FDS: '1' }, pid: 8, onPidMismatch: 'throw' }),
    ],
    ['NOTIFY_SOCKET_INVALID', NotifyError, () => notifySocket({ NOTIFY_SOCKET: 'vsock:2:9' })],
    ['NOTIFY_STATE_INVALID', NotifyError, () => formatNotify({ status: 'a\nb' })],
    ['NOTIFY_STATE_INVALID', NotifyError, () => formatNotify({ mainPid: -1 })],
  ] as const)('%s from %o', (code, cls, f) => {
    const err = thrown(f);
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(SdError);
    expect(err).toBeInstanceOf(Error);
    expect((err as SdError).code).toBe(code);
    expect((err as SdError).errno).toBeUndefined();
  });

  it('an errno-named code carries the positive Linux errno, as Node does', () => {
    const err = new NotifyError('ETIMEDOUT', 'no answer to BARRIER=1 within 5 ms');
    expect(err).toBeInstanceOf(SdError);
    expect(err.errno).toBe(110);
    expect(err.name).toBe('NotifyError');
    expect(new NotifyError('NOTIFY_FDS_UNSUPPORTED', 'x').code).toBe('NOTIFY_FDS_UNSUPPORTED');
  });
});
