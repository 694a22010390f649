/**
 * The Accept=yes fast path's native side (addon_accept.cc) where it must not fail the daemon: a
 * thread that cannot be created, a pidfd epoll will not take, a child that hangs before its exec.
 * Each scenario runs in its own Node process (the accept threads are one per process, and the
 * test-only knobs are read once): real threads, real sockets, real children.
 */
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  statSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dist } from './helpers/proc.js';

const python = ['/usr/bin/python3', '/bin/python3'].find((p) => existsSync(p)) ?? '/usr/bin/python3';

/** Shared by the scenarios: the addon, a listener, a client, the events as they come. */
const PRELUDE = `
import { connect } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
const m = await import(process.env.NATIVE_DIST);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const tids = () => readdirSync('/proc/self/task');
const comm = (t) => { try { return readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim(); } catch { return '?'; } };
const events = [];
let wake = () => {};
const onEvents = (evs) => { events.push(...evs); wake(); };
/** Resolves once an event matches (the events drive the wait; the test's timeout is the safety net). */
const until = (pred) => new Promise((resolve) => {
  const check = () => { const e = events.find(pred); if (e) { wake = () => {}; resolve(e); } };
  wake = check;
  check();
});
const listenerOf = (template) => {
  const s = m.openSocket({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 } });
  return { fd: s.fd, port: m.sockName(s.fd).port, id: m.acceptSpawnAdd(s.fd, template) };
};
const client = (port) => new Promise((resolve) => {
  const c = connect({ port, host: '127.0.0.1' });
  c.on('error', () => resolve());
  c.on('close', () => resolve());
  c.resume();
});
const template = (file, maxConnections) => ({
  spawn: { file, argv: ['prog'], envp: [], fds: [m.CONNECTION_FD, m.CONNECTION_FD, -1], setsid: true },
  limits: { maxConnections, maxPerSource: 0 },
});
`;

/** Runs one scenario in a fresh Node process; resolves with the JSON lines it printed. */
function scenario(body: string, env: NodeJS.ProcessEnv): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', `${PRELUDE}\n${body}\nprocess.exit(0);`], {
      env: { ...process.env, NATIVE_DIST: dist('index.js'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) reject(new Error(`scenario exited ${code ?? signal}:\n${out}\n${err}`));
      else
        resolve(
          out
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => JSON.parse(l) as Record<string, unknown>),
        );
    });
  });
}

describe('accept thread start-up failure', () => {
  it('a later thread that cannot be created: the started ones are stopped and joined, the errno name reaches JS', async () => {
    // MPTCP_ACCEPT_TEST_FAIL_THREAD=3: pthread_create of the third thread really fails (a stack no
    // mmap can give). Before the fix the object was freed while threads 1 and 2 kept running.
    const [r] = await scenario(
      `
      const before = new Set(tids());
      let error;
      try { m.acceptSpawnStart(onEvents); } catch (e) { error = { code: e.code, syscall: e.syscall, message: e.message }; }
      const left = tids().filter((t) => !before.has(t)).map(comm);
      // A second try fails the same way, and again leaves nothing behind.
      let again;
      try { m.acceptSpawnStart(onEvents); } catch (e) { again = e.code; }
      out({ error, left, again, leftAfter: tids().filter((t) => !before.has(t)).map(comm) });
      `,
      { MPTCP_ACCEPT_THREADS: '4', MPTCP_ACCEPT_TEST_FAIL_THREAD: '3' },
    );
    expect(r?.error).toMatchObject({ syscall: 'pthread_create' });
    expect(['EAGAIN', 'ENOMEM']).toContain((r?.error as { code: string }).code);
    expect((r?.error as { message: string }).message).toMatch(/EAGAIN|ENOMEM/);
    expect(r?.left).toEqual([]);
    expect(r?.again).toBe((r?.error as { code: string }).code);
    expect(r?.leftAfter).toEqual([]);
  }, 60_000);
});

describe('reaping when epoll will not watch a pidfd', () => {
  it('instances are reaped by polling, MaxConnections= slots come back, the errno is reported once', async () => {
    // MPTCP_ACCEPT_TEST_REAP_POLL=1: every pidfd is treated as refused by epoll_ctl (ENOSPC, as
    // from fs.epoll.max_user_watches). Before the fix the first instance was never reaped, so with
    // MaxConnections=1 the second connection was refused.
    const [r] = await scenario(
      `
      m.acceptSpawnStart(onEvents);
      const l = listenerOf(template('/bin/true', 1));
      for (let i = 1; i <= 3; i++) {
        await client(l.port);
        await until((e) => e.type === 'exited' && events.filter((x) => x.type === 'exited').length >= i);
      }
      out({
        types: events.map((e) => e.type),
        fallback: events.filter((e) => e.type === 'reap-fallback').map((e) => e.error.code),
        exits: events.filter((e) => e.type === 'exited').map((e) => e.exit),
      });
      `,
      { MPTCP_ACCEPT_TEST_REAP_POLL: '1' },
    );
    expect(r?.fallback).toEqual(['ENOSPC']);
    const types = r?.types as string[];
    expect(types.filter((t) => t === 'started')).toHaveLength(3);
    expect(types.filter((t) => t === 'exited')).toHaveLength(3);
    expect(types).not.toContain('refused');
    expect(r?.exits).toEqual([
      { code: 0, signal: null },
      { code: 0, signal: null },
      { code: 0, signal: null },
    ]);
  }, 60_000);
});

describe('removing a listener while its child hangs before exec', () => {
  it('returns at once, names the connection in flight, and its started event comes once the child execs', async () => {
    // The child's execve blocks in the open of its binary while another process holds a write
    // lease on it (until that process lets go, or fs.lease-break-time, 45 s by default): a
    // stand-in for a chdir on a dead NFS mount. Before the fix acceptSpawnRemove() waited for it.
    const dir = mkdtempSync(join(tmpdir(), 'accept-hang-'));
    const prog = join(dir, 'prog');
    copyFileSync('/bin/true', prog);
    const HOLD = [
      'import fcntl, os, signal, sys',
      'fd = os.open(sys.argv[1], os.O_RDONLY)',
      "signal.signal(signal.SIGIO, lambda *a: (sys.stdout.write('break\\n'), sys.stdout.flush()))",
      'fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)',
      "print('held', flush=True)",
      'sys.stdin.readline()',
      "print('lease', fcntl.fcntl(fd, fcntl.F_GETLEASE), flush=True)",
      'sys.stdin.readline()',
      'fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)',
      'os.close(fd)',
      "print('released', flush=True)",
    ].join('\n');
    const [r] = await scenario(
      `
      const { spawn } = await import('node:child_process');
      const holder = spawn(${JSON.stringify(python)}, ['-c', ${JSON.stringify(HOLD)}, ${JSON.stringify(prog)}], { stdio: ['pipe', 'pipe', 'inherit'] });
      let said = '';
      const waiters = [];
      holder.stdout.on('data', (d) => { said += d; waiters.splice(0).forEach((w) => w()); });
      const heard = (word) => new Promise((resolve) => {
        const check = () => { const line = said.split('\\n').find((l) => l.startsWith(word)); if (line) resolve(line); else waiters.push(check); };
        check();
      });
      await heard('held');
      m.acceptSpawnStart(onEvents);
      const l = listenerOf(template(${JSON.stringify(prog)}, 4));
      const done = client(l.port);
      await heard('break');  // the child is in its execve, blocked on the lease
      const removed = m.acceptSpawnRemove(l.id);
      holder.stdin.write('state\\n');
      const lease = Number((await heard('lease')).split(' ')[1]);
      holder.stdin.write('release\\n');
      const started = await until((e) => e.type === 'started');
      await until((e) => e.type === 'exited');
      await done;
      out({ pending: removed.pending, removedEvents: removed.events.length, lease, startedListener: started.listener, id: l.id,
            types: events.map((e) => e.type) });
      `,
      {},
    );
    expect(r?.pending).toEqual([{ source: '127.0.0.1', perSource: false }]);
    expect(r?.removedEvents).toBe(0);
    // F_RDLCK (0): the lease was still being broken, i.e. the child had not exec'd when remove returned
    // (F_UNLCK, 2, once the break timed out after 45 s).
    expect(r?.lease).toBe(0);
    expect(r?.startedListener).toBe(r?.id);
    expect(r?.types).toEqual(['started', 'exited']);
  }, 120_000);
});

/** Where a test cgroup can go: beside this process's, on the cgroup2 mount; undefined when not root. */
function cgroupParent(): { dir: string; mount: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const own = /^0::(\/.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
  const mount = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => / - cgroup2 /.test(l))
    ?.split(' ')[4];
  if (own === undefined || mount === undefined) return undefined;
  const dir = join(mount, own === '/' ? '' : own);
  return existsSync(join(dir, 'cgroup.procs')) ? { dir, mount } : undefined;
}

const cgroupRoot = cgroupParent();
describe.skipIf(cgroupRoot === undefined)('instances in cgroups (cgroupDir)', () => {
  // clone3 CLONE_INTO_CGROUP, and the fallback of older kernels (the child writes cgroup.procs).
  it.each([
    ['clone3', {}],
    ['cgroup.procs', { MPTCP_SPAWN_TEST_NO_CLONE3: '1' }],
  ])(
    'each instance starts in <cgroupDir>/<its name>, removed after exit; one a process outlives is named (%s)',
    async (_how, env) => {
      const base = mkdtempSync(join(cgroupRoot?.dir as string, 'mptcp-native-test-'));
      try {
        const [r] = await scenario(
          `
        m.acceptSpawnStart(onEvents);
        const base = ${JSON.stringify(base)};
        const add = (argv) => {
          const s = m.openSocket({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 } });
          const t = { spawn: { file: argv[0], argv, envp: [], fds: [m.CONNECTION_FD, m.CONNECTION_FD, -1], setsid: true },
            limits: { maxConnections: 8, maxPerSource: 0 }, names: { prefix: 'cg', next: 7 }, cgroupDir: base };
          return { port: m.sockName(s.fd).port, id: m.acceptSpawnAdd(s.fd, t) };
        };
        const read = (port) => new Promise((resolve) => {
          const c = connect({ port, host: '127.0.0.1' });
          let got = '';
          c.on('data', (d) => (got += d));
          c.on('close', () => resolve(got));
          c.on('error', () => resolve(got));
        });
        const plain = add(['/bin/cat', '/proc/self/cgroup']);
        const seen = (await read(plain.port)).split('\\n').find((l) => l.startsWith('0::'));
        const started = await until((e) => e.type === 'started');
        const exited = await until((e) => e.type === 'exited' && e.pid === started.pid);
        const gone = !readdirSync(base).includes(started.name);
        // A child that leaves a process in its cgroup (setsid: not in its process group either).
        const leaving = add(['/bin/sh', '-c', 'setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo $!']);
        const stray = Number((await read(leaving.port)).trim());
        const started2 = await until((e) => e.type === 'started' && e.pid !== started.pid);
        const exited2 = await until((e) => e.type === 'exited' && e.pid === started2.pid);
        const procs = readFileSync(base + '/' + started2.name + '/cgroup.procs', 'utf8').trim();
        out({ seen, name: started.name, index: started.index, port: plain.port, exitedCgroup: exited.cgroup ?? null, gone,
              name2: started2.name, exited2Cgroup: exited2.cgroup ?? null, stray, procs });
        `,
          env,
        );
        expect(r?.name).toMatch(
          new RegExp(`^cg@7-127\\.0\\.0\\.1:${r?.port as number}-127\\.0\\.0\\.1:\\d+\\.service$`),
        );
        expect(r?.index).toBe(7);
        // /proc/self/cgroup names it relative to the cgroup2 mount.
        expect(r?.seen).toBe(`0::${base.slice(cgroupRoot?.mount.length)}/${r?.name as string}`);
        expect(r?.exitedCgroup).toBeNull();
        expect(r?.gone).toBe(true);
        expect(r?.name2).toMatch(/^cg@7-/);
        expect(r?.exited2Cgroup).toBe(r?.name2);
        expect(r?.procs).toBe(String(r?.stray));
      } finally {
        for (const d of readdirSync(base)) {
          if (!statSync(join(base, d)).isDirectory()) continue;
          writeFileSync(join(base, d, 'cgroup.kill'), '1');
          await waitEmpty(join(base, d));
          rmdirSync(join(base, d));
        }
        rmdirSync(base);
      }
    },
    60_000,
  );
});

/** Resolves once cgroup.events says `populated 0` (inotify on it, as the kernel notifies its changes). */
function waitEmpty(dir: string): Promise<void> {
  return new Promise((resolve) => {
    const populated = (): boolean => /^populated 1$/m.test(readFileSync(join(dir, 'cgroup.events'), 'utf8'));
    const w = watch(join(dir, 'cgroup.events'), () => {
      if (!populated()) {
        w.close();
        resolve();
      }
    });
    if (!populated()) {
      w.close();
      resolve();
    }
  });
}
