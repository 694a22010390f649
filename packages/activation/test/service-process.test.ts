/** ServiceProcess against real processes: environment, ExecStartPre, users, stop timeouts, fd hygiene. */
import { mkdtempSync, openSync, readFileSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ServiceProcess, type ServiceProcessOptions } from '../src/service-process.js';
import { silentLogger } from '../src/logger.js';
import { adaptNative } from '../src/native-binding.js';
import type { NativeSpawn } from '../src/exec.js';
import { IN_CI, need, root } from './helpers/capability.js';
import { cmd, service } from './helpers/units.js';

const outer = mkdtempSync(join(tmpdir(), 'act-svc-'));
afterAll(() => undefined);

function envOf(file: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\0')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

// Every test runs with both launchers: the native one (clone + execve in @mptcp/native) and the
// child_process + /bin/sh fallback.
const native: NativeSpawn | undefined = await import('@mptcp/native').then(
  (mod) => (mod.bindingAvailable() ? adaptNative(mod).spawn : undefined),
  () => undefined,
);
if (!native && IN_CI) throw new Error('@mptcp/native spawn unavailable under CI');
const launchers: Array<[string, NativeSpawn | undefined]> = [
  ['node', undefined],
  ...(native ? [['native', native] as [string, NativeSpawn]] : []),
];

async function runToExit(p: ServiceProcess, ctx = {}): Promise<void> {
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  await p.start(ctx);
  await exited;
}

describe.each(launchers)('ServiceProcess (%s launcher)', (launcher, spawn) => {
  const dir = mkdtempSync(join(outer, `${launcher}-`));
  const opts = (o: Omit<ServiceProcessOptions, 'spawn'>): ServiceProcessOptions => ({
    ...o,
    ...(spawn ? { spawn } : {}),
  });

  it('passes exactly the documented environment, with LISTEN_PID = the service PID', async () => {
    const out = join(dir, 'env1');
    const envFile = join(dir, 'envfile');
    writeFileSync(envFile, '# comment\nFROM_FILE="quoted value"\nOVER=file\n');
    process.env.LEAK_ME = 'no';
    const fd = openSync('/dev/null', 'r');
    const p = new ServiceProcess(
      service('env.service', {
        execStart: [
          cmd([
            '/bin/sh',
            '-c',
            `tr '\\n' '\\0' </dev/null >/dev/null; cat /proc/$$$$/environ > ${out}; echo $$$$ > ${out}.pid`,
          ]),
        ],
        environment: [
          ['OVER', 'env'],
          ['PLAIN', 'a b'],
        ],
        environmentFiles: [envFile, '/nonexistent/optional'].map((path, i) => ({ path, optional: i === 1 })),
      }),
      opts({ logger: silentLogger, output: 'inherit', daemonEnv: { LANG: 'C.UTF-8', LEAK_ME: 'no' } }),
    );
    await runToExit(p, { fds: [fd], fdNames: ['web'] });
    closeSync(fd);
    const env = envOf(out);
    const pid = readFileSync(`${out}.pid`, 'utf8').trim();
    expect(Object.keys(env).sort()).toEqual(
      [
        'FROM_FILE',
        'INVOCATION_ID',
        'LANG',
        'LISTEN_FDNAMES',
        'LISTEN_FDS',
        'LISTEN_PID',
        'OVER',
        'PATH',
        'PLAIN',
        'SYSTEMD_EXEC_PID',
        // 257 sets USER=root without User= (and LOGNAME/HOME/SHELL only with SetLoginEnvironment=).
        'USER',
      ].sort(),
    );
    expect(env).toMatchObject({
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin',
      LANG: 'C.UTF-8',
      USER: 'root',
      LISTEN_FDS: '1',
      LISTEN_FDNAMES: 'web',
      LISTEN_PID: pid,
      SYSTEMD_EXEC_PID: pid,
      FROM_FILE: 'quoted value',
      OVER: 'file',
      PLAIN: 'a b',
    });
    expect(env.INVOCATION_ID).toMatch(/^[0-9a-f]{32}$/);
    delete process.env.LEAK_ME;
  });

  it('runs ExecStartPre in order; a failing one aborts the start, a `-` one does not', async () => {
    const log = join(dir, 'pre.log');
    const ok = new ServiceProcess(
      service('pre.service', {
        execStartPre: [
          cmd(['/bin/sh', '-c', `echo pre1 >> ${log}`]),
          cmd(['/bin/false'], { ignoreFailure: true }),
          cmd(['/bin/sh', '-c', `echo pre2 >> ${log}`]),
        ],
        execStart: [cmd(['/bin/sh', '-c', `echo main >> ${log}`])],
      }),
      opts({ logger: silentLogger, output: 'inherit' }),
    );
    await runToExit(ok);
    expect(readFileSync(log, 'utf8')).toBe('pre1\npre2\nmain\n');
    const bad = new ServiceProcess(
      service('bad.service', {
        execStartPre: [cmd(['/bin/false'])],
        execStart: [cmd(['/bin/sh', '-c', `echo never >> ${log}`])],
      }),
      opts({ logger: silentLogger, output: 'inherit' }),
    );
    await expect(bad.start()).rejects.toThrow(/ExecStartPre/);
    expect(bad.state).toBe('failed');
    expect(readFileSync(log, 'utf8')).toBe('pre1\npre2\nmain\n');
  });

  it('expands $VAR in ExecStart with the service environment and honours the @ argv[0]', async () => {
    const out = join(dir, 'argv');
    const p = new ServiceProcess(
      service('argv.service', {
        environment: [['WORDS', 'a  b c']],
        execStart: [
          cmd(['custom-name', '-c', `tr '\\0' '|' < /proc/$$$$/cmdline > ${out}`, '$WORDS', '${WORDS}'], {
            path: '/bin/sh',
            argv0Override: true,
          }),
        ],
      }),
      opts({ logger: silentLogger, output: 'inherit' }),
    );
    await runToExit(p);
    expect(readFileSync(out, 'utf8')).toBe(`custom-name|-c|tr '\\0' '|' < /proc/$$/cmdline > ${out}|a|b|c|a  b c|`);
  });

  it('User=/Group= switch ids and drop supplementary groups; USER/LOGNAME are set, not a `/` HOME or nologin SHELL', async (ctx) => {
    need(ctx, root);
    const out = join(dir, 'user');
    const p = new ServiceProcess(
      service('user.service', {
        user: 'nobody',
        group: 'nogroup',
        workingDirectory: { path: '/tmp', optional: false },
        execStart: [
          cmd([
            '/bin/sh',
            '-c',
            `{ grep -E '^(Uid|Gid|Groups):' /proc/self/status; pwd; echo "$HOME $USER $LOGNAME $SHELL"; } > ${out}.tmp; cat ${out}.tmp`,
          ]),
        ],
      }),
      opts({ logger: silentLogger, output: 'ignore' }),
    );
    const { chmodSync } = await import('node:fs');
    chmodSync(outer, 0o777);
    chmodSync(dir, 0o777);
    await runToExit(p);
    const text = readFileSync(`${out}.tmp`, 'utf8');
    expect(text).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    expect(text).toMatch(/^Gid:\s+65534\s+65534\s+65534\s+65534$/m);
    // 257 gives initgroups(nobody, 65534) = [65534] (exec-credentials-257.test.ts); child_process drops
    // every group, which the node launcher accepts when the only one is the gid itself.
    expect(text).toMatch(launcher === 'native' ? /^Groups:\s+65534\s*$/m : /^Groups:\s*$/m);
    expect(text).toContain('/tmp\n');
    // 257 synthesizes nobody (home `/`, shell nologin) and leaves both out (fixtures/v257/user-env).
    expect(text).toMatch(/^ nobody nobody $/m);
  });

  it('ExecStopPost= runs after the main process, with SERVICE_RESULT/EXIT_CODE/EXIT_STATUS', async () => {
    const out = join(dir, 'stoppost');
    const p = new ServiceProcess(
      service('post.service', {
        execStart: [cmd(['/bin/sh', '-c', 'exit 3'])],
        execStopPost: [cmd(['/bin/sh', '-c', `echo "$$SERVICE_RESULT $$EXIT_CODE $$EXIT_STATUS" > ${out}`])],
      }),
      opts({ logger: silentLogger, output: 'inherit' }),
    );
    await runToExit(p);
    expect(readFileSync(out, 'utf8')).toBe('exit-code exited 3\n');
    expect(p.state).toBe('failed');
  });

  it('stop(): ExecStop= runs first, with MAINPID', async () => {
    const out = join(dir, 'execstop');
    const p = new ServiceProcess(
      service('execstop.service', {
        execStart: [cmd(['/bin/sleep', '30'])],
        execStop: [cmd(['/bin/sh', '-c', `echo "$$MAINPID" > ${out}; kill -HUP $$MAINPID`])],
      }),
      opts({ logger: silentLogger, output: 'inherit' }),
    );
    const exit = new Promise<{ signal: string | null; stopped: boolean }>((resolve) => p.once('exit', resolve));
    const pid = await p.start();
    await p.stop();
    expect(readFileSync(out, 'utf8').trim()).toBe(String(pid));
    expect(await exit).toMatchObject({ signal: 'SIGHUP', stopped: true });
  });

  it('stop(): KillSignal first, SIGKILL after TimeoutStopSec', async () => {
    const p = new ServiceProcess(
      service('stubborn.service', {
        killSignal: 'SIGTERM',
        timeoutStopUsec: 300_000,
        execStart: [cmd(['/bin/sh', '-c', "trap '' TERM; while :; do sleep 0.05; done"])],
      }),
      opts({ logger: silentLogger, output: 'inherit' }),
    );
    const exit = new Promise<{ signal: string | null }>((resolve) => p.once('exit', resolve));
    const pid = await p.start();
    // Stop only once the shell ignores SIGTERM (SigIgn in /proc, bit 15): a fixed 100 ms wait let a
    // shell that had not run `trap` yet on a loaded machine die of the SIGTERM. 20 s is a safety net.
    const ignoresTerm = (): boolean => {
      const m = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m !== null && (BigInt(`0x${m[1]}`) & (1n << 14n)) !== 0n;
    };
    for (const end = Date.now() + 20_000; !ignoresTerm(); await new Promise((r) => setTimeout(r, 10)))
      if (Date.now() > end) throw new Error(`pid ${pid} did not ignore SIGTERM within 20 s`);
    const t0 = Date.now();
    await p.stop();
    const took = Date.now() - t0;
    expect((await exit).signal).toBe('SIGKILL');
    expect(took).toBeGreaterThanOrEqual(280);
    // SIGKILL after TimeoutStopSec=300ms, not the 90 s default (a loaded machine may add seconds).
    expect(took).toBeLessThan(20_000);
    // As systemd: "State 'stop-sigterm' timed out. Killing." then "Failed with result 'timeout'."
    expect(p.state).toBe('failed');
    expect(p.lastResult).toBe('timeout');
  });

  it('no daemon fd leaks into the service: only 0-2 and the passed fds', async () => {
    const out = join(dir, 'fds');
    const extra = openSync('/etc/hostname', 'r'); // CLOEXEC (Node opens everything so)
    const passed = openSync('/dev/null', 'r');
    const p = new ServiceProcess(
      // find inherits exactly the service's fds (plus its own directory fds under /proc).
      service('fds.service', {
        execStart: [cmd(['/bin/sh', '-c', `find /proc/self/fd/ -mindepth 1 -printf '%f %l\\n' > ${out}`])],
      }),
      opts({ logger: silentLogger, output: 'inherit' }),
    );
    await runToExit(p, { fds: [passed], fdNames: ['x'] });
    closeSync(extra);
    closeSync(passed);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    const fds = new Map(lines.map((l) => [Number(l.split(' ')[0]), l.split(' ').slice(1).join(' ')]));
    expect(fds.get(3)).toBe('/dev/null');
    expect([...fds.values()]).not.toContain('/etc/hostname');
    // Whatever else is there was inherited by the test runner itself without CLOEXEC, not ours:
    for (const [fd, target] of fds)
      if (fd > 3 && !target.startsWith('/proc/')) expect(target).not.toMatch(/^socket:|hostname/);
  });

  it('the service starts with only SIGPIPE ignored (IgnoreSIGPIPE= default yes, systemd 257) and an empty mask; IgnoreSIGPIPE=no: all default', async () => {
    expect(/^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]).not.toMatch(/^0+$/);
    for (const [value, ign] of [
      [undefined, '0+1000'],
      ['no', '0+'],
    ] as const) {
      const out = join(dir, `signals-${launcher}-${value ?? 'default'}`);
      const p = new ServiceProcess(
        service('signals.service', {
          execStart: [cmd(['/bin/sh', '-c', `grep -E '^Sig(Ign|Blk):' /proc/self/status > ${out}`])],
          ...(value !== undefined ? { extra: { IgnoreSIGPIPE: [value] } } : {}),
        }),
        opts({ logger: silentLogger, output: 'inherit' }),
      );
      await runToExit(p);
      expect(readFileSync(out, 'utf8')).toMatch(new RegExp(`^SigBlk:\\s*0+\\nSigIgn:\\s*${ign}\\n$`));
    }
  });

  it('a program that cannot be executed fails the start (native: execve ENOENT) or exits 127/EXEC (node)', async () => {
    const p = new ServiceProcess(
      service('missing.service', { execStart: [cmd(['/nonexistent/program'])] }),
      opts({ logger: silentLogger, output: 'inherit' }),
    );
    if (spawn) {
      await expect(p.start()).rejects.toThrow(/Failed to execute \/nonexistent\/program: execve ENOENT/);
      expect(p.state).toBe('failed');
    } else {
      const exit = new Promise<{ code: number | null }>((resolve) => p.once('exit', resolve));
      await p.start();
      expect((await exit).code).toBe(127);
      expect(p.state).toBe('failed');
    }
  });
});
