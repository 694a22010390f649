/**
 * Standard*=socket (Accept=yes, inetd style) as systemd 257 (fixtures/v257/fd-store/ctl@.service,
 * recorded by record.sh): the control commands — ExecStartPre=, ExecStartPost=, ExecStop= (run
 * after the main process exited by itself), ExecStopPost= — get the connection as stdio too, with
 * no LISTEN_FDS and no fd beyond 0-2; the client reads every line before EOF. And every control
 * command of an Accept=yes instance gets REMOTE_ADDR/REMOTE_PORT (ctl2@.service).
 */
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine, loadNative } from '../src/index.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { freePort, tmp, unitDir } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/fd-store/', import.meta.url));
const expected = readFileSync(join(FIXTURE, 'expected.txt'), 'utf8');

/** What the oracle's client got from ctl.socket, as lines. */
function oracleLines(): string[] {
  const m = /^\[ctl\.socket\]\nb'(.*)'$/m.exec(expected);
  if (!m) throw new Error('expected.txt has no [ctl.socket] answer');
  return (m[1] as string).split('\\n').filter(Boolean);
}

/**
 * fds this test process inherited without close-on-exec (from whatever started it: a CI runner's
 * pipe): every child inherits them, which is not the engine's doing; the comparison leaves them out.
 */
function inheritedFds(): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const flags = /^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (flags && Number(fd) > 2 && (parseInt(flags[1] as string, 8) & 0o2000000) === 0) out.add(fd);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** `pre … fds=0 1 2 3 ` without the inherited fds. */
function withoutInherited(line: string, inherited: Set<string>): string {
  return line.replace(
    /fds=([\d ]*)/,
    (_m, list: string) =>
      `fds=${list
        .split(' ')
        .filter((fd) => fd === '' || !inherited.has(fd))
        .join(' ')}`,
  );
}

const nativeSupport = { ok: false, reason: '@mptcp/native does not load (build the addon)' };
nativeSupport.ok = await loadNative().then(
  (n) => n.dup !== undefined,
  () => false,
);

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('Standard*=socket: control commands write to the connection (systemd 257)', () => {
  it('ExecStartPre=, ExecStartPost=, ExecStop=, ExecStopPost= lines reach the client before EOF', async (ctx) => {
    if (!nativeSupport.ok) {
      if (process.env.CI === 'true') throw new Error(nativeSupport.reason);
      ctx.skip();
    }
    const port = await freePort();
    const units: Record<string, string> = {};
    for (const name of ['ctl.socket', 'ctl@.service'])
      units[name] = readFileSync(join(FIXTURE, name), 'utf8').replace('127.0.0.1:19732', `127.0.0.1:${port}`);
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(unitDir(units)));
    const got = await new Promise<string>((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1', () => c.write('hello from client\n'));
      let text = '';
      c.setEncoding('utf8');
      c.on('data', (d: string) => (text += d));
      c.on('end', () => resolve(text));
      c.on('error', reject);
    });
    const inherited = inheritedFds();
    const lines = got
      .split('\n')
      .filter(Boolean)
      .map((l) => withoutInherited(l, inherited));
    const want = oracleLines();
    // ExecStartPost= runs beside the main process (Type=simple): only their order may differ.
    expect([...lines].sort()).toEqual([...want].sort());
    expect(lines[0]).toBe(want[0]);
    expect(lines.slice(-2)).toEqual(['stop', 'stop-post']);
  });

  it('an Accept=yes instance: ExecStartPre= and ExecStopPost= get REMOTE_ADDR/REMOTE_PORT, not LISTEN_FDS (ctl2@.service)', async (ctx) => {
    if (!nativeSupport.ok) {
      if (process.env.CI === 'true') throw new Error(nativeSupport.reason);
      ctx.skip();
    }
    const port = await freePort();
    const out = join(tmp('ctl2-'), 'ctl2.txt');
    const units: Record<string, string> = {};
    for (const name of ['ctl2.socket', 'ctl2@.service'])
      units[name] = readFileSync(join(FIXTURE, name), 'utf8')
        .replace('127.0.0.1:19733', `127.0.0.1:${port}`)
        .replaceAll('/oracle/out/ctl2.txt', out);
    engine = new ActivationEngine({ logger: testLogger() });
    const exited = new Promise<void>((resolve) => engine?.on('service-exit', () => resolve()));
    await engine.start(await loadUnits(unitDir(units)));
    const got = await new Promise<string>((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1', () => c.setNoDelay(true));
      let text = '';
      c.setEncoding('utf8');
      c.on('data', (d: string) => (text += d));
      c.on('end', () => resolve(text));
      c.on('error', reject);
    });
    await exited;
    // (Nothing is sent: the main process does not read, and unread data would make its close a reset.)
    const section =
      /^\[ctl2\.socket\]\n([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(expected)?.[1]?.split('\n').filter(Boolean) ?? [];
    expect(section.length).toBe(3);
    expect(`b'${got.replace(/\n/g, '\\n')}'`).toBe(section[0]);
    const lines = readFileSync(out, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/REMOTE_PORT=\d+/, 'REMOTE_PORT=N'));
    expect(lines).toEqual(section.slice(1));
  });
});
