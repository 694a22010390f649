/**
 * Issue 10, "one unit's input never stops the others": FIFOs and /dev/zero as EnvironmentFile= or
 * as unit files, huge Environment= lists, per-connection disk reads, a tiny fd budget, a control
 * client that never reads, and log lines that must appear once.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseUnitText } from '@mptcp/unit';
import { freePort } from '@mptcp/testkit/net';
import { fdCount, rssBytes } from '@mptcp/testkit/proc';
import { writeAcceptUnit } from '@mptcp/testkit/units';
import { startFixture, until } from '../src/fixture.js';
import { reload, scratchDirs, withFixture } from './helpers/case.js';
import { report, requireCaps } from '../src/require.js';
import { echo, readAll } from '../src/client.js';

const fresh = scratchDirs();

/** Opens `n` connections that stay open; resolves once each has its first reply line. */
async function holdMany(port: number, n: number): Promise<{ sockets: Socket[]; served: number }> {
  const sockets: Socket[] = [];
  const replies = await Promise.all(
    Array.from(
      { length: n },
      (_, i) =>
        new Promise<boolean>((resolve) => {
          const s = createConnection({ host: '127.0.0.1', port });
          sockets.push(s);
          let got = '';
          s.on('connect', () => s.write(`c${i}\n`));
          s.on('data', (d: Buffer) => {
            got += d.toString();
            if (got.includes('\n')) resolve(true);
          });
          s.on('error', () => resolve(false));
          s.on('close', () => resolve(got.includes('\n')));
        }),
    ),
  );
  return { sockets, served: replies.filter(Boolean).length };
}

describe('isolation: files that never end or never open', () => {
  it('EnvironmentFile= that is a FIFO or a symlink to /dev/zero fails that start, names the file; the rest keeps serving', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = fresh('envfile');
    const fifo = join(dir, 'env.fifo');
    execFileSync('mkfifo', [fifo]);
    const zero = join(dir, 'env.zero');
    symlinkSync('/dev/zero', zero);
    const [pf, pz, pg] = [await freePort(), await freePort(), await freePort()];
    writeAcceptUnit(join(dir, 'units'), {
      name: 'fifo',
      listen: `127.0.0.1:${pf}`,
      exec: '/bin/cat',
      service: [`EnvironmentFile=${fifo}`],
    });
    writeAcceptUnit(join(dir, 'units'), {
      name: 'zero',
      listen: `127.0.0.1:${pz}`,
      exec: '/bin/cat',
      service: [`EnvironmentFile=${zero}`],
    });
    writeAcceptUnit(join(dir, 'units'), { name: 'good', listen: `127.0.0.1:${pg}`, exec: '/bin/cat' });
    await withFixture(dir, async (fx) => {
      const rss0 = rssBytes(fx.daemon.proc.pid);
      const f = await echo('127.0.0.1', pf, 'x', 10_000).catch((e: Error) => `ERR ${e.message}`);
      const z = await echo('127.0.0.1', pz, 'x', 10_000).catch((e: Error) => `ERR ${e.message}`);
      const g = await echo('127.0.0.1', pg, 'good', 10_000);
      const st = await fx.status();
      const rssGrowth = rssBytes(fx.daemon.proc.pid) - rss0;
      const named = [fifo, zero].map((p) => fx.daemon.proc.stderr.some((l) => l.includes(p)));
      report(
        'envfile-fifo-zero',
        'EnvironmentFile= a FIFO (no writer) and a symlink to /dev/zero, next to a good socket',
        `fifo: ${JSON.stringify(f)}; zero: ${JSON.stringify(z)}; good: ${g}; status ok ${st.ok}; files named ${named.join(',')}`,
        { rssGrowthMB: rssGrowth / 2 ** 20 },
      );
      expect(f).toMatch(/^(|ERR read ECONNRESET)$/); // closed, never echoed
      expect(z).toMatch(/^(|ERR read ECONNRESET)$/); // closed, never echoed
      expect(g).toBe('good');
      expect(st.ok).toBe(true);
      expect(named).toEqual([true, true]);
      expect(rssGrowth).toBeLessThan(100 * 2 ** 20);
    });
  });

  it('a FIFO and a /dev/zero symlink in the unit directory freeze neither start-up nor SIGHUP', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = fresh('unitfifo');
    const port = await freePort();
    writeAcceptUnit(join(dir, 'units'), { name: 'good', listen: `127.0.0.1:${port}`, exec: '/bin/cat' });
    execFileSync('mkfifo', [join(dir, 'units', 'stuck.socket')]);
    symlinkSync('/dev/zero', join(dir, 'units', 'zero.service'));
    mkdirSync(join(dir, 'units', 'good@.service.d'));
    execFileSync('mkfifo', [join(dir, 'units', 'good@.service.d', 'fifo.conf')]);
    await withFixture(dir, async (fx) => {
      await reload(fx);
      const g = await echo('127.0.0.1', port, 'good', 10_000);
      const st = await fx.status();
      const failed = (st.failed ?? []).map((f) => f.unit).sort();
      report(
        'unitdir-fifo-zero',
        'stuck.socket a FIFO, zero.service → /dev/zero, a FIFO drop-in of the good template; start, then SIGHUP',
        `ready and reloaded; good: ${g}; failed: ${failed.join(', ')}`,
        {},
      );
      expect(g).toBe('good');
      expect(failed).toEqual(expect.arrayContaining(['stuck.socket', 'zero.service']));
    });
  });
});

describe('isolation: cost per unit and per connection', () => {
  it('Environment= parsing is linear: 80,000 lines cost about 4× 20,000, not 16×', () => {
    const unit = (n: number): string =>
      `[Service]\nExecStart=/bin/true\n${Array.from({ length: n }, (_, i) => `Environment=V${i}=value${i}`).join('\n')}\n`;
    const time = (n: number): number => {
      const text = unit(n);
      // CPU time of this process, not wall time: other processes' load (both cores busy) does not count
      const c0 = process.cpuUsage();
      const r = parseUnitText(text, { file: '/x/e.service', name: 'e.service' });
      const c = process.cpuUsage(c0);
      const ms = (c.user + c.system) / 1000;
      expect(r.unit?.kind === 'service' ? r.unit.environment.length : -1).toBe(n);
      return ms;
    };
    time(2000); // warm-up
    const small = Math.min(time(20_000), time(20_000), time(20_000));
    const large = Math.min(time(80_000), time(80_000), time(80_000));
    report(
      'environment-linear',
      'parse a service with 20,000 and 80,000 Environment= lines (CPU time, best of 3)',
      `ratio ${(large / small).toFixed(1)} (linear 4, quadratic 16)`,
      { ms20k: small, ms80k: large },
    );
    expect(large / small).toBeLessThan(10);
  });

  it('an Accept=yes connection reads nothing from disk: the template and its drop-ins are loaded once (until SIGHUP)', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = fresh('nodisk');
    const port = await freePort();
    writeAcceptUnit(join(dir, 'units'), { name: 'mem', listen: `127.0.0.1:${port}`, exec: '/bin/sh -c "echo $$WHO"' });
    mkdirSync(join(dir, 'units', 'mem@.service.d'));
    writeFileSync(join(dir, 'units', 'mem@.service.d', 'who.conf'), '[Service]\nEnvironment=WHO=from-drop-in\n');
    await withFixture(dir, async () => {
      const before = (await readAll('127.0.0.1', port)).trim();
      rmSync(join(dir, 'units', 'mem@.service'));
      rmSync(join(dir, 'units', 'mem@.service.d'), { recursive: true });
      const after = (await readAll('127.0.0.1', port)).trim();
      report(
        'template-once',
        'Accept=yes template with a drop-in; both deleted from disk after start-up; connect again',
        `before: ${before}; after: ${after}`,
        {},
      );
      expect(before).toBe('from-drop-in');
      expect(after).toBe('from-drop-in');
    });
  });

  it('EMFILE: with an fd limit that fits 30 instances, 30 held connections are all served (accept and spawn interleave)', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = fresh('emfile');
    const port = await freePort();
    writeAcceptUnit(join(dir, 'units'), { name: 'hold', listen: `127.0.0.1:${port}`, exec: '/bin/cat' });
    // 1. What the daemon needs: fds at rest, and per running instance (pidfd, output pipe…).
    const probe = await startFixture(dir);
    let base = 0;
    let perInstance = 0;
    try {
      base = fdCount(probe.daemon.proc.pid);
      const held = await holdMany(port, 8);
      perInstance = (fdCount(probe.daemon.proc.pid) - base) / 8;
      held.sockets.forEach((s) => s.destroy());
    } finally {
      await probe.stop();
    }
    // 2. A limit with room for 30 instances and 10 fds to spare: draining the accept queue first
    //    (30 connection fds held unserved) does not fit; accepting as instances start does.
    const limit = base + Math.round(30 * perInstance) + 10;
    const fx = await startFixture(dir, { prefix: ['sh', '-c', `ulimit -n ${limit} && exec "$0" "$@"`] });
    let served = 0;
    let sockets: Socket[] = [];
    try {
      ({ sockets, served } = await holdMany(port, 30));
      report(
        'emfile-interleave',
        `daemon with RLIMIT_NOFILE ${limit} (${base} at rest + 30 × ${perInstance} per instance + 10); 30 connections to an Accept=yes /bin/cat, all held open`,
        `${served} of 30 served`,
        { served, limit },
      );
      expect(served).toBe(30);
    } finally {
      sockets.forEach((s) => s.destroy());
      await fx.stop();
    }
  });
});

describe('isolation: the control socket and the log', () => {
  it('a control client that sends 200,000 requests and never reads its replies: the daemon stops reading it, RSS stays bounded', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = fresh('ctlflood');
    writeAcceptUnit(join(dir, 'units'), { name: 'x', listen: `127.0.0.1:${await freePort()}`, exec: '/bin/cat' });
    const fx = await startFixture(dir);
    const flood = createConnection({ path: fx.control });
    try {
      await new Promise<void>((resolve) => flood.once('connect', () => resolve()));
      flood.pause(); // never read
      const rss0 = rssBytes(fx.daemon.proc.pid);
      flood.write(Buffer.from('{"cmd":"ping"}\n'.repeat(200_000)));
      // Wait until the daemon takes no more: the bytes it has not read stop going down.
      let last = -1;
      await until(
        () => {
          const now = flood.writableLength;
          const still = now === last;
          last = now;
          return still || now === 0;
        },
        60_000,
        'the daemon to stop reading',
      );
      const growth = rssBytes(fx.daemon.proc.pid) - rss0;
      const st = await fx.status();
      report(
        'control-flood',
        '200,000 ping requests on one control connection that never reads',
        `unread by the daemon: ${flood.writableLength} bytes; status still answers: ${st.ok}`,
        { rssGrowthMB: growth / 2 ** 20 },
      );
      expect(flood.writableLength).toBeGreaterThan(0);
      expect(growth).toBeLessThan(50 * 2 ** 20);
      expect(st.ok).toBe(true);
    } finally {
      flood.destroy();
      await fx.stop();
    }
  });

  it('each refusal and each failed service exit is logged once', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = fresh('logonce');
    const [p1, p2] = [await freePort(), await freePort()];
    writeAcceptUnit(join(dir, 'units'), {
      name: 'one',
      listen: `127.0.0.1:${p1}`,
      exec: '/bin/cat',
      maxConnections: 1,
    });
    writeAcceptUnit(join(dir, 'units'), { name: 'fails', listen: `127.0.0.1:${p2}`, exec: '/bin/false' });
    const fx = await startFixture(dir);
    const { sockets } = await holdMany(p1, 1);
    try {
      await readAll('127.0.0.1', p1).catch(() => '');
      await readAll('127.0.0.1', p2).catch(() => '');
      await until(
        () => fx.daemon.proc.stderr.some((l) => /fails@.*exited/.test(l)),
        10_000,
        'the failed exit to be logged',
      );
      const refusals = fx.daemon.proc.stderr.filter((l) => l.includes('Too many incoming connections'));
      const exits = fx.daemon.proc.stderr.filter((l) => /fails@.*Main process exited/.test(l));
      report(
        'log-once',
        'one refusal (MaxConnections=1) and one failing instance (/bin/false)',
        `refusal lines ${refusals.length}, exit lines ${exits.length}`,
        {},
      );
      expect(refusals.length).toBe(1);
      expect(exits.length).toBe(1);
    } finally {
      sockets.forEach((s) => s.destroy());
      await fx.stop();
    }
  });
});
