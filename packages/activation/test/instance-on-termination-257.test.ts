/**
 * An Accept=yes instance is a unit of its own in systemd 257: when it ends, its template's
 * OnSuccess=/OnFailure= units start with that instance's MONITOR_* (fixtures/v257/instance-on-termination,
 * recorded with the oracle by record.sh: a connection whose instance exits 0, then one that exits 3).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '@mptcp/testkit/net';
import { capture, recording, startEngine, stopEngines } from './helpers/recorded-257.js';
import { waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/instance-on-termination/', import.meta.url));
const rec = recording(FIXTURE);

afterEach(stopEngines);

/** Sends one line and waits for the instance to close the connection. */
function send(port: number, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1' }, () => c.end(`${line}\n`));
    c.resume();
    c.on('close', () => resolve());
    c.on('error', reject);
  });
}

/** The handlers' [env] blocks as written to env.txt, the instance's number and peer port made N and PORT. */
function blocks(text: string): string[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/@\d+-/, '@N-').replace(/127\.0\.0\.1:\d+\.service/, '127.0.0.1:PORT.service'));
}

describe('OnSuccess=/OnFailure= of Accept=yes instances (systemd 257, fixtures/v257/instance-on-termination)', () => {
  it('each instance that ends starts its template handler with its own MONITOR_*', async () => {
    const log = capture();
    const port = await freePort();
    const { e, out } = await startEngine(FIXTURE, {
      logger: log,
      files: (f) => /\.(service|socket)$/.test(f) && f !== 'driver.service',
      edit: (text, _f, r) => text.replaceAll('/oracle/out', r.out).replace('127.0.0.1:7711', `127.0.0.1:${port}`),
    });
    expect(e.socket('it.socket')?.state).toBe('listening');
    const env = join(out, 'env.txt');
    const done = (n: number) => existsSync(env) && readFileSync(env, 'utf8').split('[env] --').length - 1 === n;
    await send(port, 'ok');
    await waitFor(() => done(1), 20_000, 'OnSuccess= after the first instance');
    await send(port, 'bad');
    await waitFor(() => done(2), 20_000, 'OnFailure= after the second instance');
    const expected = rec.lines
      .filter((l) => l.startsWith('[env] '))
      .map((l) => l.replace('127.0.0.1:7711', `127.0.0.1:${port}`));
    expect(blocks(readFileSync(env, 'utf8'))).toEqual(expected);
    // The manager's lines about it: each instance's trigger line, the handler's run.
    const triggers = (lines: string[]) =>
      lines.filter((l) => l.includes('Triggering')).map((l) => l.replace(/it@\S+\.service/, 'it@….service'));
    expect(triggers(log.lines.map((l) => `${l.level}: ${l.text}`))).toEqual(
      triggers(rec.lines.filter((l) => l.startsWith('[log] ')).map((l) => l.slice(6))),
    );
  });
});
