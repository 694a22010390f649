/**
 * LoadCredential=/SetCredential= limits and sources as systemd 257 (fixtures/v257/credentials-limits,
 * recorded with the oracle by record.sh): a source larger than CREDENTIAL_SIZE_MAX (1 MiB, /dev/zero
 * included) and credentials whose IDs and data pass CREDENTIALS_TOTAL_SIZE_MAX (1 MiB: two 600000-byte
 * files, a directory of them, 1 MiB plus a SetCredential=) fail the process 243/CREDENTIALS with 257's
 * two lines; exactly 1 MiB, /dev/null and a directory tree with a FIFO and a symlink in it are fine; a
 * socket inside a directory source fails. Where mptcpd-lite differs, the test says so: a FIFO source
 * fails at once with 243 (257 waits in open() until the start times out) and an AF_UNIX socket
 * source fails (257 connects and reads it).
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { need, root } from './helpers/capability.js';
import { capture, expectStateAsShown, recording, startEngine, stopEngines } from './helpers/recorded-257.js';
import { run } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/credentials-limits/', import.meta.url));
const rec = recording(FIXTURE);
const SAME = ['zero', 'big', 'exact', 'over', 'total', 'dir', 'setover', 'tree', 'devnull', 'sockdir'];

const servers: Server[] = [];
afterEach(async () => {
  await stopEngines();
  for (const s of servers.splice(0)) s.close();
});

/** A listening AF_UNIX socket at `path` (a stand-in for a credential-serving socket). */
function listenUnix(path: string): Promise<void> {
  const s = createServer((c) => c.end('sockdata'));
  servers.push(s);
  return new Promise((resolve) => s.listen(path, resolve));
}

/** The sources driver.sh makes in /run, made in `base` with the same names. */
async function makeSources(base: string): Promise<void> {
  const zeros = (n: number): Buffer => Buffer.alloc(n);
  writeFileSync(join(base, 'xbig'), zeros(2097152));
  writeFileSync(join(base, 'xexact'), zeros(1048575));
  writeFileSync(join(base, 'xover'), zeros(1048576));
  writeFileSync(join(base, 'xhalf'), zeros(600000));
  const sh = [
    'set -e',
    'mkdir -p xdir xtree/sub/deeper xsockdir',
    'head -c 600000 /dev/zero > xdir/a',
    'head -c 600000 /dev/zero > xdir/b',
    'echo top > xtree/top; echo sub > xtree/sub/f; echo deep > xtree/sub/deeper/g',
    'mkfifo xtree/fifo xfifo; ln -s "$PWD/xtree/top" xtree/link',
  ].join('\n');
  const r = await run('sh', ['-c', `cd '${base}' && ${sh}`]);
  expect(r.code, r.stderr).toBe(0);
  await listenUnix(join(base, 'xsockdir', 's'));
  await listenUnix(join(base, 'xsock'));
}

describe('credential limits (systemd 257)', () => {
  it('1 MiB per source and in all, directory trees, devices; a FIFO or socket source fails that process at once', async (ctx) => {
    need(ctx, root);
    const log = capture();
    const { e, base } = await startEngine(FIXTURE, {
      logger: log,
      files: (f) => f.endsWith('.service') && !/^(driver|stdin|stdout|stdinw|stdoutr)\.service$/.test(f),
      edit: (text, _file, r) => text.replaceAll('/run/x', `${r.base}/x`),
    });
    await makeSources(base);
    for (const u of [...SAME, 'sock', 'fifo']) await e.startUnit(`${u}.service`).catch(() => undefined);
    for (const u of SAME) {
      expectStateAsShown(e.unitInfo(`${u}.service`), rec.tagged('show', `${u}.service`)[0]);
      // 257's executor lines (`Failed to set up credentials: Protocol error`, `Failed at step
      // CREDENTIALS spawning /bin/true: Protocol error`) and the manager's.
      const exec = rec.lines
        .filter((l) => l.startsWith(`[exec] err: ${u}.service: `))
        .map((l) => l.slice('[exec] err: '.length));
      expect(
        log.lines.filter((l) => l.level === 'error' && l.unit === `${u}.service`).map((l) => l.text),
        u,
      ).toEqual(expect.arrayContaining(exec));
    }
    // Differences, on purpose: 257 connects to a socket source and reads it (sock.service succeeds),
    // and waits in open() for a FIFO's writer until TimeoutStartSec= ('timeout'); the daemon cannot
    // wait in its event loop, so both fail 243/CREDENTIALS at once.
    expect(rec.tagged('show', 'sock.service')[0]).toContain('Result=success');
    expect(rec.tagged('show', 'fifo.service')[0]).toContain('Result=timeout');
    for (const u of ['sock', 'fifo']) {
      expect(e.unitInfo(`${u}.service`)).toMatchObject({ activeState: 'failed', result: 'exit-code' });
      expect(log.lines.map((l) => l.text)).toContain(`${u}.service: Failed to set up credentials: Protocol error`);
    }
    // Nothing of a failed set-up is left behind (the directory is written aside, then renamed).
    const names = [...SAME, 'sock', 'fifo'].map((u) => `${u}.service`);
    expect(readdirSync('/run/credentials').filter((n) => names.some((u) => n.includes(u)))).toEqual([]);
  });
});
