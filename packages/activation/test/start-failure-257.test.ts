/**
 * A service start that fails in ExecStartPre= ends, as in systemd 257, through stop-post:
 * ExecStopPost= runs once per failed start with SERVICE_RESULT=exit-code and without EXIT_CODE=/
 * EXIT_STATUS= (the main process never ran), the result is exit-code, and a socket whose pending
 * connection keeps retriggering it fails with service-start-limit-hit after 5 starts. Compared with
 * fixtures/v257/start-failure (record.sh, the oracle).
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { loopback, tmp } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/start-failure/', import.meta.url));
const recorded = readFileSync(join(FIXTURE, 'expected.txt'), 'utf8').split('\n').filter(Boolean);
const stopPosts = recorded.filter((l) => l.startsWith('[stop-post] ')).map((l) => l.slice('[stop-post] '.length));

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** The fixture's units in a directory of their own, ExecStopPost= writing to `out`, listening on `addr`. */
function units(out: string, addr: string): string {
  const dir = tmp('start-failure-');
  const unitDir = join(dir, 'units');
  mkdirSync(unitDir);
  for (const f of ['prefail.socket', 'prefail.service']) {
    const text = readFileSync(join(FIXTURE, f), 'utf8')
      .replace('/oracle/out/prefail.txt', out)
      .replace('127.0.0.1:18931', addr);
    writeFileSync(join(unitDir, f), text);
  }
  return unitDir;
}

describe('a start failing in ExecStartPre= (systemd 257)', () => {
  it('the recording: each of the 5 starts ran ExecStopPost= with the same environment', () => {
    expect(stopPosts).toHaveLength(5);
    expect(new Set(stopPosts).size).toBe(1);
    expect(stopPosts[0]).toBe('stop-post SERVICE_RESULT=exit-code EXIT_CODE=unset EXIT_STATUS=unset');
  });

  it('one start: ExecStopPost= runs as in 257, the result is exit-code', async () => {
    const out = join(tmp('start-failure-out-'), 'prefail.txt');
    writeFileSync(out, '');
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(units(out, await loopback())));
    await expect(engine.startUnit('prefail.service')).rejects.toThrow(
      /^Job for prefail.service failed because the control process exited with error code\.$/,
    );
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean)).toEqual([stopPosts[0]]);
    expect(engine.unitInfo('prefail.service')).toMatchObject({ activeState: 'failed', result: 'exit-code' });
  });

  it('triggered by a pending connection: 5 starts, 5 ExecStopPost=, the socket fails with service-start-limit-hit', async () => {
    const out = join(tmp('start-failure-out-'), 'prefail.txt');
    writeFileSync(out, '');
    const addr = await loopback();
    engine = new ActivationEngine({ logger: testLogger() });
    const e = engine;
    const failed = new Promise<string>((resolve) =>
      e.on('socket-state', (ev) => {
        if (ev.socket === 'prefail.socket' && ev.state === 'failed') resolve(ev.result);
      }),
    );
    await e.start(await loadUnits(units(out, addr)));
    // Connected and never answered: each failed start leaves it pending, which triggers the next.
    const client = net.connect({ port: Number(addr.split(':')[1]), host: '127.0.0.1' });
    client.on('error', () => undefined);
    expect(await failed).toBe('service-start-limit-hit');
    client.destroy();
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean)).toEqual(stopPosts);
  }, 60_000);
});
