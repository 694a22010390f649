/** PollLimitIntervalSec=/PollLimitBurst= (systemd 257): too many wake-ups pause polling; the socket is not failed. */
import { echoRoundTrip } from '@mptcp/testkit/net';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { freePort, unitDir } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('PollLimitBurst=', () => {
  it('pauses polling after the burst and resumes after the interval; connections wait in the backlog, none is refused', async () => {
    const port = await freePort();
    const log = testLogger();
    const dir = unitDir({
      'pl.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\nTriggerLimitBurst=0\nPollLimitIntervalSec=1\nPollLimitBurst=2\n`,
      'pl@.service': '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n',
    });
    engine = new ActivationEngine({ logger: log });
    await engine.start(await loadUnits(dir));
    const replies: string[] = [];
    // One at a time: every connection is its own wake-up.
    for (let i = 0; i < 5; i++) replies.push(await echoRoundTrip(port, `n${i}`));
    expect(replies).toEqual(['n0', 'n1', 'n2', 'n3', 'n4']);
    expect(log.warnings.filter((w) => w.startsWith('pl.socket: Poll limit hit')).length).toBeGreaterThanOrEqual(1);
    expect(engine.socket('pl.socket')?.state).toBe('listening');
    expect(engine.socket('pl.socket')?.counters.refused).toBe(0);
  }, 30_000);
});
