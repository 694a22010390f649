/**
 * The fd store against systemd 257 (fixtures/v257/fd-store, recorded with the oracle by record.sh):
 * the same units and the same service script (fdstore.py) run under our engine, and the clients
 * must get the same answers — stored fds come back newest first, a dup of a stored fd is
 * suppressed, a pipe whose writer closed is dropped (EPOLLHUP) unless FDPOLL=0, and the limit
 * warns once per message with 257's wording.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine, NotifySocket, loadNative } from '../src/index.js';
import type { Logger } from '../src/logger.js';
import { need, python3 } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { freePort, tmp, unitDir } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/fd-store/', import.meta.url));
const expected = readFileSync(join(FIXTURE, 'expected.txt'), 'utf8');

/** One section of expected.txt: its lines. */
function section(name: string): string[] {
  const m = new RegExp(`^\\[${name.replace('.', '\\.')}\\]\\n([\\s\\S]*?)(?=^\\[|(?![\\s\\S]))`, 'm').exec(expected);
  if (!m) throw new Error(`expected.txt has no [${name}]`);
  return (m[1] as string).split('\n').filter(Boolean);
}

/** Python's repr of the bytes the oracle's client got (b'...\n') back to text. */
function unrepr(line: string): string {
  const m = /^b'(.*)'$/.exec(line);
  if (!m) throw new Error(`not a bytes repr: ${line}`);
  return (m[1] as string).replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
}

const notifySupport = { ok: false, reason: '@mptcp/native cannot receive credentials+fds (rebuild the addon)' };
notifySupport.ok = await loadNative().then(
  (n) => NotifySocket.supported(n),
  () => false,
);
const fdStoreSupport = { ok: false, reason: '@mptcp/native has no fd-store primitives (rebuild the addon)' };
fdStoreSupport.ok = await loadNative().then(
  (n) => n.fdStore !== undefined,
  () => false,
);

interface Recorded extends Logger {
  lines: string[];
}

/** Every engine line, debug included, as `<level>unit: message` (the fixture's shape). */
function recordingLogger(): Recorded {
  const lines: string[] = [];
  const rec =
    (level: number) =>
    (m: string, f?: { unit?: string }): void => {
      lines.push(`<${level}>${f?.unit ? `${f.unit}: ` : ''}${m}`);
    };
  return { lines, debug: rec(31), info: rec(30), warn: rec(28), error: rec(27) };
}

/** Connects, sends the oracle client's line, reads to EOF. */
function exchange(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write('hello from client\n'));
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => (got += d));
    c.on('end', () => resolve(got));
    c.on('error', reject);
  });
}

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** The fixture's unit files, with this run's port and paths in place of the oracle's. */
function fixtureUnits(names: string[], port: number, out: string): string {
  const files: Record<string, string> = {};
  for (const name of names) {
    files[name] = readFileSync(join(FIXTURE, name), 'utf8')
      .replace(/127\.0\.0\.1:1973\d/g, `127.0.0.1:${port}`)
      .replace(/\/oracle\/units\/([\w-]+\.py)/, (_m, script: string) => join(FIXTURE, script))
      .replace(/\/oracle\/out\/[\w-]+\.txt/g, out);
  }
  return unitDir(files);
}

describe('fd store as systemd 257 (fixtures/v257/fd-store)', () => {
  it('three starts: newest first, dup suppressed, hung-up pipe dropped, FDPOLL=0 kept, one limit warning', async (ctx) => {
    need(ctx, python3, notifySupport, fdStoreSupport);
    const port = await freePort();
    const out = join(tmp('fdstore-'), 'fdstore.txt');
    const log = recordingLogger();
    engine = new ActivationEngine({ logger: log });
    await engine.start(await loadUnits(fixtureUnits(['fds.socket', 'fds.service'], port, out)));
    const answers: string[] = [];
    for (let i = 0; i < 3; i++) answers.push(await exchange(port));
    const want = section('fds.socket');
    expect(answers).toEqual(want.filter((l) => l.startsWith("b'")).map(unrepr));
    // What each start saw (kinds: the socket, then the stored pipe/files newest first).
    const runs = readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => /^(run \d+|pre): /.test(l) && !l.endsWith(': done'));
    // ExecStartPre= (NotifyAccess=main): no NOTIFY_SOCKET, no $FDSTORE; the main process gets both.
    expect(runs).toEqual(want.filter((l) => /^(run \d+|pre): /.test(l)));
    // 257's warning, once for the message that overflowed (4 fds, room for 2).
    const limit = (l: string): boolean => l.includes('FileDescriptorStoreMax=');
    expect(log.lines.filter(limit)).toEqual(want.filter(limit));
    // The debug lines of service_add_fd_store() / on_fd_store_io() (rate-limited away in the oracle's log).
    expect(log.lines.filter((l) => l.includes('Suppressing duplicate fd'))).toEqual([
      expect.stringMatching(/^<31>fds\.service: Suppressing duplicate fd \d+ in fd store\.$/),
    ]);
    expect(log.lines.filter((l) => l.includes('on stored fd'))).toEqual([
      expect.stringMatching(/^<31>fds\.service: Received EPOLLHUP on stored fd \d+ \(hup\), closing\.$/),
    ]);
    expect(engine.status().services.find((s) => s.name === 'fds.service')?.fdStore).toEqual([
      'x',
      'x',
      'nopoll',
      'b',
      'a',
    ]);
  });

  it.for([
    ['nfd', 2, 'an invalid FDNAME= is stored as "stored", FDSTOREREMOVE=1 needs a valid name and wins over FDSTORE=1'],
    ['zero', 1, 'FileDescriptorStoreMax=0: every FDSTORE=1 message warns that the store is full'],
  ] as const)('%s.service (notify-fds.py, %i starts): %s', async ([unit, starts], ctx) => {
    need(ctx, python3, notifySupport);
    const port = await freePort();
    const out = join(tmp('fdstore-'), `${unit}.txt`);
    const log = recordingLogger();
    engine = new ActivationEngine({ logger: log });
    await engine.start(await loadUnits(fixtureUnits([`${unit}.socket`, `${unit}.service`], port, out)));
    const answers: string[] = [];
    for (let i = 0; i < starts; i++) answers.push(await exchange(port));
    // The last run's messages are in: it answered, then waited for BARRIER=1 before exiting.
    await new Promise<void>((resolve) => {
      const done = (): boolean =>
        engine?.status().services.find((s) => s.name === `${unit}.service`)?.state !== 'active';
      if (done()) return resolve();
      engine?.on('service-exit', () => resolve());
    });
    const want = section(`${unit}.socket`);
    expect(answers).toEqual(want.filter((l) => l.startsWith("b'")).map(unrepr));
    expect(log.lines.filter((l) => l.startsWith(`<28>${unit}.service: `))).toEqual(
      want.filter((l) => l.startsWith('<28>')),
    );
  });
});
