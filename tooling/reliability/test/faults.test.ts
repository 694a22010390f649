/**
 * Faults: services that crash or are killed, a daemon killed and restarted, unit directories that
 * are unreadable or loop, and an MPTCP path removed mid-transfer.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '@mptcp/testkit/net';
import { Lab } from '@mptcp/testkit/lab';
import { oneConnection } from '@mptcp/testkit/loadgen';
import { DAEMON_CLI } from '@mptcp/testkit/paths';
import { worker } from '../src/workers.js';
import { sleep, start, type Running } from '@mptcp/testkit/proc';
import { writeAcceptUnit, writeListenUnit } from '@mptcp/testkit/units';
import { startFixture, until, type Status } from '../src/fixture.js';
import { scratchDirs, withFixture } from './helpers/case.js';
import { report, requireCaps } from '../src/require.js';
import { echo, exchange } from '../src/client.js';

const fresh = scratchDirs();

const sock = (s: Status, unit: string) => s.sockets?.find((x) => x.unit === unit);
const svc = (s: Status, unit: string) => s.services?.find((x) => x.unit === unit);
const ECHO = `${process.execPath} ${worker('echo-service')}`;
/** A stack trace on stderr means an exception escaped; clean errors are one-line messages. */
const STACK = /^\s+at .+:\d+:\d+\)?$/m;

describe('faults', () => {
  it('a service that crashes on start hits the start limit; the socket fails and says why', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = fresh('crash');
    const port = await freePort();
    writeListenUnit(join(dir, 'units'), {
      name: 'crash',
      listen: [`127.0.0.1:${port}`],
      exec: '/bin/false',
      service: [],
    });
    // StartLimit*= live in [Unit] of the service; an interval far longer than the test makes the
    // limit a count of starts, however slow the machine
    writeFileSync(
      join(dir, 'units', 'crash.service'),
      '[Unit]\nStartLimitIntervalSec=1h\nStartLimitBurst=3\n[Service]\nExecStart=/bin/false\n',
    );
    await withFixture(dir, async (fx) => {
      let attempts = 0;
      const final = await until(
        async () => {
          const s = await fx.status();
          if (sock(s, 'crash.socket')?.state.startsWith('failed')) return s;
          attempts++;
          await oneConnection({ host: '127.0.0.1', ports: [port], concurrency: 1, seconds: 0, timeoutMs: 2000 }, port);
          await sleep(150);
          return null;
        },
        120_000,
        'crash.socket to fail',
      );
      const text =
        JSON.stringify({ socket: sock(final, 'crash.socket'), service: svc(final, 'crash.service') }) +
        fx.daemon.proc.stderr.join('\n');
      const refusedAfter = await oneConnection(
        { host: '127.0.0.1', ports: [port], concurrency: 1, seconds: 0, timeoutMs: 2000 },
        port,
      );
      report(
        'fault-crash-on-start',
        'Accept=no service ExecStart=/bin/false, StartLimitBurst=3, connect until the socket fails',
        `socket failed after ${attempts} connection(s), reason reported: ${/start.?limit/i.test(text)}`,
        {
          activations: Number(sock(final, 'crash.socket')?.activations ?? -1),
          connectAfterFail: refusedAfter.error ?? 'served',
        },
      );
      expect(sock(final, 'crash.socket')?.state).toMatch(/^failed/);
      expect(text).toMatch(/start.?limit/i);
      expect(refusedAfter.ok).toBe(false);
      expect(fx.daemon.proc.stderr.join('\n')).not.toMatch(STACK);
    });
  });

  it('an Accept=yes socket whose instances crash hits its trigger limit and says why', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = fresh('trigger');
    const port = await freePort();
    writeAcceptUnit(join(dir, 'units'), { name: 'tl', listen: `127.0.0.1:${port}`, exec: '/bin/false', socket: [] });
    // replace the bench default (trigger limit off) with a small one; the interval is far longer than
    // the test, so the 6th connection hits it however slowly the 12 arrive
    const unit = join(dir, 'units', 'tl.socket');
    writeFileSync(
      unit,
      readFileSync(unit, 'utf8').replace(
        'TriggerLimitIntervalSec=0',
        'TriggerLimitIntervalSec=1h\nTriggerLimitBurst=5',
      ),
    );
    await withFixture(dir, async (fx) => {
      const results = [];
      for (let i = 0; i < 12; i++)
        results.push(
          await oneConnection({ host: '127.0.0.1', ports: [port], concurrency: 1, seconds: 0, timeoutMs: 2000 }, port),
        );
      const s = await until(
        async () => {
          const st = await fx.status();
          return sock(st, 'tl.socket')?.state.startsWith('failed') ? st : null;
        },
        60_000,
        'tl.socket to fail',
      );
      const text = JSON.stringify(sock(s, 'tl.socket')) + fx.daemon.proc.stderr.join('\n');
      report(
        'fault-trigger-limit',
        '12 quick connections to Accept=yes /bin/false with TriggerLimitBurst=5',
        'socket failed, trigger limit named',
        {
          refusedConnects: results.filter((r) => !r.connected).length,
        },
      );
      expect(text).toMatch(/trigger.?limit/i);
      expect(results.some((r) => !r.connected)).toBe(true);
    });
  });

  it('a service killed with SIGKILL mid-connection: the socket returns to listening and re-activates', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = fresh('sigkill');
    const port = await freePort();
    writeListenUnit(join(dir, 'units'), { name: 'echo', listen: [`127.0.0.1:${port}`], exec: ECHO });
    await withFixture(dir, async (fx) => {
      const conn = await exchange('127.0.0.1', port);
      expect(await conn.say('one')).toBe('one');
      const s1 = await until(async () => svc(await fx.status(), 'echo.service')?.pid, 60_000, 'service pid');
      process.kill(s1, 'SIGKILL');
      const closed = await conn.closed;
      const back = await until(
        async () => sock(await fx.status(), 'echo.socket')?.state === 'listening',
        60_000,
        'socket back to listening',
      );
      const again = await echo('127.0.0.1', port, 'two');
      const s2 = svc(await fx.status(), 'echo.service');
      report(
        'fault-sigkill-service',
        'Accept=no Node echo service killed with SIGKILL during a connection',
        'connection closed, socket listening again, next connection re-activated',
        {
          killedPid: s1,
          newPid: s2?.pid ?? -1,
          clientSaw: closed,
        },
      );
      expect(back).toBe(true);
      expect(again).toBe('two');
      expect(s2?.pid).not.toBe(s1);
    });
  });

  it('the daemon killed with SIGKILL and restarted opens its sockets again, replacing AF_UNIX nodes', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = fresh('restart');
    const port = await freePort();
    const unixPath = join(dir, 'run', 'cat.sock');
    writeListenUnit(join(dir, 'units'), { name: 'echo', listen: [`127.0.0.1:${port}`], exec: ECHO });
    writeAcceptUnit(join(dir, 'units'), { name: 'cat', listen: unixPath, exec: '/bin/cat' });
    const fx = await startFixture(dir);
    const node = (): string => {
      const st = statSync(unixPath);
      return `${st.ino}@${st.ctimeMs}`;
    };
    const inode1 = node();
    expect(await echo({ path: unixPath }, 0, 'u1')).toBe('u1');
    fx.daemon.proc.child.kill('SIGKILL');
    await fx.daemon.proc.exited;
    await fx.stop();
    expect(existsSync(unixPath)).toBe(true); // the stale node is left behind, as after any crash
    const t0 = performance.now();
    const fx2 = await startFixture(dir);
    try {
      const restartMs = performance.now() - t0;
      const inode2 = node();
      expect(await echo({ path: unixPath }, 0, 'u2')).toBe('u2');
      expect(await echo('127.0.0.1', port, 'tcp')).toBe('tcp');
      report(
        'fault-daemon-restart',
        'SIGKILL the daemon (TCP Accept=no + AF_UNIX Accept=yes units), start it again on the same units and control path',
        'both sockets serve again; the AF_UNIX node was replaced',
        {
          restartMs,
          unixInodeChanged: inode1 !== inode2,
        },
      );
      expect(inode2).not.toBe(inode1);
    } finally {
      await fx2.stop();
    }
  });

  it('an unreadable unit directory is an error message, not a crash', async (ctx) => {
    requireCaps(ctx, ['daemon', 'root', 'setpriv']);
    const dir = fresh('unreadable');
    const port = await freePort();
    const units = join(dir, 'units');
    writeListenUnit(units, { name: 'echo', listen: [`127.0.0.1:${port}`], exec: ECHO });
    chmodSync(units, 0o000);
    // Root reads anything through CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH: drop them from the bounding
    // set, so the daemon (still uid 0, still able to read the repository) meets a real EACCES.
    const noDac = ['--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search'];
    const p = start('setpriv', [
      ...noDac,
      process.execPath,
      DAEMON_CLI,
      'run',
      '--units',
      units,
      '--control',
      join(dir, 'c.sock'),
    ]);
    const outcome = await Promise.race([
      p.exited.then((c) => `exit ${c}`),
      p.waitFor(/"event":"ready"/, 15_000).then(() => 'ready'),
    ]);
    await p.stop();
    chmodSync(units, 0o755);
    const stderr = p.stderr.join('\n');
    report(
      'fault-unreadable-units',
      'daemon (root without CAP_DAC_*) on a mode-000 unit directory',
      `outcome: ${outcome}; message names the directory: ${stderr.includes(units)}`,
      { stderrLines: p.stderr.length },
    );
    expect(stderr).toMatch(/EACCES|permission denied/i);
    expect(stderr).toContain(units);
    expect(stderr).not.toMatch(STACK);
    if (outcome.startsWith('exit')) expect(outcome).toBe('exit 2');
  });

  it('symlink loops in and as the unit directory are reported; the good units still serve', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = fresh('loop');
    const port = await freePort();
    const units = join(dir, 'units');
    writeListenUnit(units, { name: 'echo', listen: [`127.0.0.1:${port}`], exec: ECHO });
    symlinkSync('loop-b.socket', join(units, 'loop-a.socket'));
    symlinkSync('loop-a.socket', join(units, 'loop-b.socket'));
    symlinkSync('.', join(units, 'sub.d'));
    const fx = await startFixture(dir);
    let loopReported = false;
    try {
      expect(await echo('127.0.0.1', port, 'ok')).toBe('ok');
      const s = await fx.status();
      const all = JSON.stringify(s.failed ?? []) + fx.daemon.proc.stderr.join('\n');
      loopReported = /loop-a\.socket/.test(all) && /ELOOP|symbolic links|loop/i.test(all);
      expect(loopReported).toBe(true);
      expect(fx.daemon.proc.stderr.join('\n')).not.toMatch(STACK);
    } finally {
      await fx.stop();
    }
    // the directory itself a loop
    symlinkSync(join(dir, 'l2'), join(dir, 'l1'));
    symlinkSync(join(dir, 'l1'), join(dir, 'l2'));
    const p = start(process.execPath, [
      DAEMON_CLI,
      'run',
      '--units',
      join(dir, 'l1'),
      '--control',
      join(dir, 'c2.sock'),
    ]);
    const outcome = await Promise.race([
      p.exited.then((c) => `exit ${c}`),
      p.waitFor(/"event":"ready"/, 15_000).then(() => 'ready'),
    ]);
    await p.stop();
    report(
      'fault-symlink-loop',
      'unit dir with a.socket ⇄ b.socket and sub.d → .; then a unit dir that is itself a loop',
      `good unit served; loop reported: ${loopReported}; looping dir: ${outcome}`,
      {},
    );
    expect(p.stderr.join('\n')).toMatch(/ELOOP|symbolic links|loop/i);
    expect(p.stderr.join('\n')).not.toMatch(STACK);
  });

  it(
    'a path removed mid-transfer: MPTCP keeps the connection and the data intact',
    { timeout: 180_000 },
    async (ctx) => {
      requireCaps(ctx, ['root', 'mptcp', 'netns', 'tc', 'python3']);
      // a name of its own ([a-z0-9]{1,8}): lab.sh `up` starts with `down` of that name, so a fixed name
      // would tear down another run's lab mid-transfer
      const lab = Lab.up(`rfo${process.pid % 100000}`, '20mbit', 'signal');
      // Same rate, a queue that never drops (lab.sh's tbf latency 50ms drops in slow start): a dropped
      // ACK carrying ADD_ADDR is resent only after add_addr_timeout (120 s), and the join never comes.
      for (const [ns, dev] of [
        [lab.env.srvNs, 's1'],
        [lab.env.srvNs, 's2'],
        [lab.env.cliNs, 'c1'],
        [lab.env.cliNs, 'c2'],
      ] as const) {
        execFileSync('tc', [
          '-n',
          ns,
          'qdisc',
          'replace',
          'dev',
          dev,
          ...'root tbf rate 20mbit burst 65536 limit 64mb'.split(' '),
        ]);
      }
      const dir = fresh('path');
      const shaFile = join(dir, 'sent.sha256');
      // 32 MiB: the queues above never drop, so path 1's subflow can take a send buffer's worth
      // (~4 MB) before path 2 has joined; the rest must still be there for both paths to carry.
      const bytes = 32 << 20;
      // The behaviour under test needs both subflows carrying data before path 1 goes down. Now and
      // then the kernel's path manager never joins the second one during a transfer (issue 16: ~1
      // run in 10 stays on one path); such a transfer ends on one path before FLOWING. It is retried
      // with a new connection (the server serves one), at most 3 times, and said so in the report.
      const startPair = async (): Promise<{ srv: Running; client: Running } | undefined> => {
        rmSync(shaFile, { force: true });
        const s = lab.start('srv', process.execPath, [
          worker('failover-service'),
          '--bytes',
          String(bytes),
          '--sha-file',
          shaFile,
          '--listen',
          '0.0.0.0:5300',
        ]);
        await s.waitFor(/^LISTENING/, 60_000);
        const c = lab.start('cli', process.execPath, [
          worker('failover-client'),
          '--host',
          lab.env.srv1,
          '--port',
          '5300',
          '--ifaces',
          'c1,c2',
          '--timeout-s',
          '120',
        ]);
        await c.waitFor(/^CONNECTED/, 60_000);
        // both subflows carry data: the event path 1 going down is measured against (60 s: safety net)
        const flowing = await Promise.race([
          c.waitFor(/^FLOWING/, 60_000).then(() => true),
          c.exited.then(() => false),
        ]);
        if (flowing) return { srv: s, client: c };
        await s.stop('SIGKILL');
        return undefined;
      };
      let pair: { srv: Running; client: Running } | undefined;
      let attempts = 0;
      try {
        while (pair === undefined && attempts < 3) {
          attempts++;
          pair = await startPair();
        }
        if (pair === undefined) throw new Error('the second subflow never carried data in 3 transfers');
        const { client } = pair;
        lab.link(1, 'down');
        const downAt = Date.now();
        const code = await client.exited;
        expect(code).toBe(0);
        const r = JSON.parse(client.stdout.find((l) => l.startsWith('{')) ?? '{}') as {
          bytes: number;
          sha256: string;
          mptcp: boolean | null;
          samples: number[][];
        };
        await until(
          () => existsSync(shaFile) && readFileSync(shaFile, 'utf8').trim().length === 64,
          60_000,
          'sender hash',
        );
        const sent = readFileSync(shaFile, 'utf8').trim();
        const last = r.samples[r.samples.length - 1]!;
        const atDown = r.samples.find((s) => s[0]! >= downAt) ?? last;
        report(
          'fault-path-removed',
          `${bytes >> 20} MiB over 2 × 20 Mbit, path 1 down for good once both subflows carry data`,
          `connection kept, sha256 equal: ${sent === r.sha256}`,
          {
            bytes: r.bytes,
            path2BytesAfterDown: last[3]! - atDown[3]!,
            mptcp: String(r.mptcp),
            transfersUntilBothSubflowsCarried: attempts,
          },
        );
        expect(r.bytes).toBe(bytes);
        expect(r.sha256).toBe(sent);
        expect(last[3]! - atDown[3]!).toBeGreaterThan(bytes / 4); // the rest went over path 2
      } finally {
        await pair?.srv.stop('SIGKILL');
        lab.down();
      }
    },
  );
});
