/**
 * `mptcpd-lite dev`: crashes, exits, stubborn apps, what an app leaves behind, bursts of saves,
 * Ctrl-C, bad commands — each against the built CLI and a real node app.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, renameSync, watch, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mptcpUnavailable, need, netnsUnavailable } from './helpers/capability.js';
import { CLI, pidAlive, runCli } from './helpers/cli.js';
import {
  appDir,
  cleanupDev,
  listenFdsApp,
  portOf,
  reportedPids,
  requestOnce,
  startDev,
  writeApp,
} from './helpers/dev-app.js';

afterEach(cleanupDev);

const node = process.execPath;

/** Running (a zombie waiting for its reaper is dead enough). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

// Safety nets only: each step waits for an event; a loaded machine may be slow to start node.
describe('mptcpd-lite dev: lifecycle', { timeout: 120_000 }, () => {
  it('a crashed app waits for the next change; a request made meanwhile waits in the backlog and gets the fixed code', async () => {
    const { dir, app } = appDir();
    writeApp(app, "throw new Error('broken on purpose');\n");
    const { dev } = startDev(['-l', '127.0.0.1:0', '--mptcp', 'off', '-w', dir, '--', node, app]);
    const port = await portOf(dev);
    await dev.waitFor(/^\[dev\] app crashed \(exit code 1\); waiting for a change to restart$/, 30_000);
    // Nothing listens in the app, yet the connection is not refused: it is queued.
    const pending = requestOnce(port);
    writeApp(app, listenFdsApp(5));
    const s = await pending;
    expect(s.error).toBeUndefined();
    expect(s.version).toBe(5);
    await dev.waitFor(/^\[dev\] restarting \(changed: .*app\.mjs\)$/);
  });

  it('an app that exits 0 on its own ends dev with 0; with --exit-on-crash a failing app ends it with its status', async () => {
    const a = appDir();
    writeApp(a.app, 'process.exit(0);\n');
    const clean = startDev(['-l', '127.0.0.1:0', '--mptcp', 'off', '-w', a.dir, '--', node, a.app]);
    expect(await clean.dev.exited).toEqual({ code: 0, signal: null });
    expect(clean.dev.lines).toContain('[dev] app exited (exit code 0)');

    const b = appDir();
    writeApp(b.app, 'process.exit(7);\n');
    const failing = startDev([
      '-l',
      '127.0.0.1:0',
      '--mptcp',
      'off',
      '--exit-on-crash',
      '-w',
      b.dir,
      '--',
      node,
      b.app,
    ]);
    expect(await failing.dev.exited).toEqual({ code: 7, signal: null });
    expect(failing.dev.lines).toContain('[dev] app exited (exit code 7)');
  });

  it('an app that ignores SIGTERM is killed (with its group) after --stop-timeout; what a stopped app leaves in its group is killed too', async () => {
    const { dir, app } = appDir();
    const deaf = (v: number): string =>
      listenFdsApp(v).replace(
        /process\.on\('SIGTERM'.*\n/,
        "process.on('SIGTERM', () => console.log('ignoring SIGTERM'));\n",
      );
    writeApp(app, deaf(1));
    // sh execs node (same PID, so LISTEN_PID holds); the sleeper stays in the group, deaf to SIGTERM.
    const script = `(trap '' TERM; exec sleep 1000) & echo "sleeper=$!"; exec "${node}" "${app}"`;
    const run = startDev([
      '-l',
      '127.0.0.1:0',
      '--mptcp',
      'off',
      '--stop-timeout',
      '400',
      '-w',
      dir,
      '--',
      'sh',
      '-c',
      script,
    ]);
    const { dev, clock } = run;
    const port = await portOf(dev);
    const sleepers = (): number[] => dev.lines.filter((l) => /^sleeper=\d+$/.test(l)).map((l) => Number(l.slice(8)));
    await clock.waitCount(/^\[dev\] ready in \d+ ms \(pid \d+\)$/, 1);
    const [first] = reportedPids(run);
    // v2 stops on SIGTERM; v1 does not: SIGKILL to its whole group after 400 ms.
    writeApp(app, listenFdsApp(2));
    await dev.waitFor(new RegExp(`^\\[dev\\] pid ${first} did not stop within 400 ms after SIGTERM: SIGKILL$`), 30_000);
    await clock.waitCount(/^\[dev\] ready in \d+ ms \(pid \d+\)$/, 2);
    expect((await requestOnce(port)).version).toBe(2);
    expect(pidAlive(first as number)).toBe(false);
    expect(running(sleepers()[0] as number)).toBe(false);
    // v2 exits on SIGTERM at once; its deaf sleeper is killed when the stop timeout runs out.
    const second = reportedPids(run)[1] as number;
    writeApp(app, listenFdsApp(3));
    await dev.waitFor(new RegExp(`^\\[dev\\] killing what pid ${second} left running: ${sleepers()[1]}$`), 30_000);
    await clock.waitCount(/^\[dev\] ready in \d+ ms \(pid \d+\)$/, 3);
    expect((await requestOnce(port)).version).toBe(3);
    expect(pidAlive(second)).toBe(false);
    expect(running(sleepers()[1] as number)).toBe(false);
  }, 120_000);

  it('an app that crashes on its own: what it left in its group is stopped too', async () => {
    const { dir } = appDir();
    const run = startDev([
      '-l',
      '127.0.0.1:0',
      '--mptcp',
      'off',
      '-w',
      dir,
      '--',
      'sh',
      '-c',
      'sleep 1000 & echo "sleeper=$!"; exit 3',
    ]);
    const sleeper = Number(/=(\d+)/.exec(await run.dev.waitFor(/^sleeper=\d+$/, 60_000))?.[1]);
    await run.dev.waitFor(new RegExp(`^\\[dev\\] stopping what pid \\d+ left running: ${sleeper}$`), 60_000);
    await run.dev.waitFor(/^\[dev\] app crashed \(exit code 3\); waiting for a change to restart$/, 60_000);
    // SIGTERM reaches it at once; it is gone (or a zombie waiting for its reaper) before long.
    while (running(sleeper)) await new Promise((resolve) => setTimeout(resolve, 20));
  });

  it('a burst of saves is one restart (debounced), and the last version is served', async () => {
    const { dir, app } = appDir();
    writeApp(app, listenFdsApp(0));
    const { dev, clock } = startDev(['-l', '127.0.0.1:0', '--mptcp', 'off', '-w', dir, '--', node, app]);
    const port = await portOf(dev);
    await dev.waitFor(/^\[dev\] ready in/, 30_000);
    // Ten saves within a few ms, as an editor's "save all" or a formatter would do (write to a temporary
    // file, rename over the real one).
    for (let v = 1; v <= 10; v++) {
      writeFileSync(`${app}.tmp`, listenFdsApp(v));
      renameSync(`${app}.tmp`, app);
    }
    await clock.waitCount(/^\[dev\] ready in/, 2);
    expect((await requestOnce(port)).version).toBe(10);
    const restarts = dev.lines.filter((l) => l.startsWith('[dev] restarting'));
    expect(restarts.length).toBeLessThan(10);
    expect(restarts[0]).toMatch(/^\[dev\] restarting \(changed: .*app\.mjs and \d+ more\)$/);
  });

  it('Ctrl-C stops the app and closes the socket; dev exits 130', async () => {
    const { dir, app } = appDir();
    writeApp(app, listenFdsApp(1));
    const run = startDev(['-l', '127.0.0.1:0', '--mptcp', 'off', '-w', dir, '--', node, app]);
    const port = await portOf(run.dev);
    await run.dev.waitFor(/^\[dev\] ready in/, 30_000);
    expect((await requestOnce(port)).version).toBe(1);
    run.dev.kill('SIGINT');
    expect(await run.dev.exited).toEqual({ code: 130, signal: null });
    expect(run.dev.lines).toContain('[dev] stopping (SIGINT)');
    for (const pid of reportedPids(run)) expect(pidAlive(pid)).toBe(false);
    expect(await refused(port)).toBe(true);
  });

  it('a program that cannot be executed exits 127; usage errors exit 2', async () => {
    const { dir } = appDir();
    const missing = startDev(['-l', '127.0.0.1:0', '-w', dir, '--', '/nonexistent/program']);
    expect(await missing.dev.exited).toEqual({ code: 127, signal: null });
    expect(missing.dev.lines.some((l) => /^\[dev\] cannot start \/nonexistent\/program: .*ENOENT/.test(l))).toBe(true);

    const noListen = await runCli(['dev', '--', node, '-e', '0']);
    expect(noListen.code).toBe(2);
    expect(noListen.stderr).toContain('at least one -l ADDR is required');
    const badMode = await runCli(['dev', '-l', '0', '--mptcp', 'maybe', '--', node]);
    expect(badMode.code).toBe(2);
    const help = await runCli(['dev', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('restarting (changed: FILE)');
  });

  it('--mptcp: the listener default follows NODE_MPTCP; require fails without MPTCP, prefer falls back with a warning', async (ctx) => {
    need(ctx, mptcpUnavailable() ?? netnsUnavailable());
    // The app exits 0 at once, so dev prints its listening line and exits 0.
    const app = ['--', node, '-e', '0'];
    const byDefault = await runCli(['dev', '-l', '127.0.0.1:0', ...app]);
    expect(byDefault.code).toBe(0);
    expect(byDefault.stderr).toMatch(/^\[dev\] listening on 127\.0\.0\.1:\d+ \(MPTCP\) as fd 3$/m);
    const envOff = await runCli(['dev', '-l', '127.0.0.1:0', ...app], { env: { NODE_MPTCP: '0' } });
    expect(envOff.stderr).toMatch(/\(TCP\) as fd 3$/m);
    const envOffRequire = await runCli(['dev', '-l', '127.0.0.1:0', '--mptcp', 'require', ...app], {
      env: { NODE_MPTCP: '0' },
    });
    expect(envOffRequire.code).toBe(2);
    expect(envOffRequire.stderr).toContain('disabled by NODE_MPTCP=0');

    // A network namespace with net.mptcp.enabled=0.
    const ns = `mdl-dev-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', 'ip link set lo up && sysctl -qw net.mptcp.enabled=0']);
      const required = await runCli(['dev', '-l', '127.0.0.1:0', '--mptcp', 'require', ...app], { netns: ns });
      expect(required.code).toBe(2);
      expect(required.stderr).toContain('ENOPROTOOPT');
      expect(required.stderr).toContain('net.mptcp.enabled=0');
      const preferred = await runCli(['dev', '-l', '127.0.0.1:0', '--mptcp', 'prefer', ...app], { netns: ns });
      expect(preferred.code).toBe(0);
      expect(preferred.stderr).toContain(
        '[dev] MPTCP unavailable (ENOPROTOOPT): listening on 127.0.0.1:0 with plain TCP',
      );
      expect(preferred.stderr).toMatch(/\(TCP\) as fd 3$/m);
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });

  it(
    'dev … 2> FILE inside the watched tree: its own output does not restart the app',
    { timeout: 200_000 },
    async () => {
      const { dir, app } = appDir();
      writeApp(app, listenFdsApp(1));
      const out = path.join(dir, 'out.txt');
      const fd = openSync(out, 'w');
      const dev = spawn(node, [CLI, 'dev', '-l', '127.0.0.1:0', '--mptcp', 'off', '-w', dir, '--', node, app], {
        stdio: ['ignore', fd, fd],
      });
      closeSync(fd);
      try {
        const lines = (re: RegExp): string[] => {
          try {
            return readFileSync(out, 'utf8')
              .split('\n')
              .filter((l) => re.test(l));
          } catch {
            return [];
          }
        };
        // Event-driven: re-read the file whenever it changes (a generous safety timeout).
        const until = (re: RegExp, n: number): Promise<void> =>
          new Promise((resolve, reject) => {
            const done = (err?: Error): void => {
              clearTimeout(timer);
              watcher.close();
              if (err) reject(err);
              else resolve();
            };
            const check = (): void => {
              if (lines(re).length >= n) done();
            };
            const watcher = watch(out, check);
            const timer = setTimeout(
              () => done(new Error(`${n} lines matching ${String(re)} not seen in ${out}:\n${lines(/./).join('\n')}`)),
              60_000,
            );
            check();
          });
        await until(/^\[dev\] ready in/, 1);
        const port = Number(/:(\d+) /.exec(lines(/listening on/)[0] ?? '')?.[1]);
        writeApp(app, listenFdsApp(2));
        await until(/^\[dev\] ready in/, 2);
        writeApp(app, listenFdsApp(3));
        await until(/^\[dev\] ready in/, 3);
        expect((await requestOnce(port)).version).toBe(3);
        expect(lines(/^\[dev\] restarting/)).toEqual([
          `[dev] restarting (changed: ${path.relative(process.cwd(), app)})`,
          `[dev] restarting (changed: ${path.relative(process.cwd(), app)})`,
        ]);
      } finally {
        dev.kill('SIGTERM');
        await new Promise((resolve) => dev.once('close', resolve));
      }
    },
  );
});
