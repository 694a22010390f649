/**
 * The Accept=yes fast path (accept-fast.ts, @mptcp/native addon_accept.cc) with cgroup tracking
 * (cgroup.ts): the socket still goes to the accept thread after its first instance, each instance the
 * thread starts is in a cgroup of its own named as its unit (where the regular path puts it), a
 * process an instance leaves behind with setsid() and a fork is reached by a stop and by the drain
 * after the instance's exit, and every cgroup is removed once empty. Also SuccessExitStatus= on the
 * fast path (with or without cgroups), and the templates whose [Unit] acts per start (Condition*=, Wants=,
 * OnSuccess=, …) staying on the regular path. The cgroup cases need root and a writable cgroup2 with cgroup.kill.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { basename, dirname, join } from 'node:path';
import * as nativeModule from '@mptcp/native';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CgroupTree, detectCgroups } from '../src/cgroup.js';
import { ActivationEngine } from '../src/index.js';
import { adaptNative } from '../src/native-binding.js';
import { loadUnits } from './helpers/load.js';
import { loopback, tmp, unitDir, waitFor } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

const quiet = { debug() {}, info() {}, error() {}, warn() {} };

/** The real native layer, counting regular spawns and hand-overs (with their templates) to the accept thread. */
function countingNative(): {
  api: ReturnType<typeof adaptNative>;
  spawns: () => number;
  templates: nativeModule.AcceptSpawnTemplate[];
} {
  const api = adaptNative(nativeModule);
  let spawns = 0;
  const templates: nativeModule.AcceptSpawnTemplate[] = [];
  const spawn = api.spawn;
  const fast = api.acceptSpawn;
  if (!spawn?.spawnProcessAsync || !fast) throw new Error('the addon has no native spawn or no accept fast path');
  const asyncSpawn = spawn.spawnProcessAsync.bind(spawn);
  return {
    api: {
      ...api,
      spawn: {
        ...spawn,
        spawnProcessAsync: (o: nativeModule.SpawnProcessOptions) => {
          spawns += 1;
          return asyncSpawn(o);
        },
      },
      acceptSpawn: {
        ...fast,
        add: (fd, t) => {
          templates.push(t);
          return fast.add(fd, t);
        },
      },
    },
    spawns: () => spawns,
    templates,
  };
}

/** Connects, sends `send`, resolves with everything received until the close. */
function exchange(port: number, send = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1' });
    let got = '';
    c.on('data', (d: Buffer) => (got += d.toString()));
    c.on('end', () => resolve(got));
    c.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve(got) : reject(e)));
    c.end(send);
  });
}

/** A client held open: resolves with the first line it receives. */
function firstLine(port: number): { c: net.Socket; line: Promise<string> } {
  const c = net.connect({ port, host: '127.0.0.1' });
  let got = '';
  const line = new Promise<string>((resolve, reject) => {
    c.on('data', (d: Buffer) => {
      got += d.toString();
      if (got.includes('\n')) resolve(got.slice(0, got.indexOf('\n')));
    });
    c.on('close', () => reject(new Error(`closed after ${JSON.stringify(got)}`)));
  });
  return { c, line };
}

/** A live process (not a zombie). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * An instance whose child calls setsid() and forks the escapee: the escapee writes its PID to the
 * connection, then lets go of it (stdio to /dev/null) and sleeps. The main process waits until it has
 * (a pipe), then sleeps (`stay`) or exits (`leave`).
 */
const ESCAPE_PY = `
import os, sys, time
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(1, (str(os.getpid()) + "\\n").encode())
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.write(w, b"x")
        time.sleep(100000)
    os._exit(0)
os.close(w)
os.waitpid(pid, 0)
os.read(r, 1)  # the escapee has said its PID
if sys.argv[1] == "stay":
    time.sleep(100000)
`;

function resultsOf(e: ActivationEngine): Map<string, string> {
  const results = new Map<string, string>();
  e.on('service-exit', (x) => results.set(x.unit, x.result));
  return results;
}

describe('Accept=yes fast path: SuccessExitStatus=', () => {
  it('an exit status listed there is a success for a fast instance too', async () => {
    const n = countingNative();
    const dir = unitDir({
      'ses.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'ses@.service':
        "[Service]\nExecStart=/bin/sh -c 'echo hi; exit 42'\nSuccessExitStatus=42\nStandardInput=socket\n",
    });
    engine = new ActivationEngine({ logger: quiet, native: n.api });
    const results = resultsOf(engine);
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('ses.socket')?.listen[0]?.port as number;
    expect(await exchange(port)).toBe('hi\n');
    await waitFor(() => n.templates.length === 1, 10_000, 'the socket to go to the accept thread');
    for (let i = 0; i < 3; i++) expect(await exchange(port)).toBe('hi\n');
    await waitFor(() => results.size === 4, 20_000, 'four instances to end');
    expect(n.spawns()).toBe(1);
    expect([...results.values()]).toEqual(['success', 'success', 'success', 'success']);
  });
});

describe('Accept=yes fast path: what [Unit] does per instance keeps the regular path', () => {
  // 257 starts each instance as a unit of its own: its Condition*=/Assert*= are tested, its
  // Requires=/Wants= pulled in and its OnSuccess=/OnFailure= started, per connection. The accept
  // thread does none of that, so such a template's instances are never handed to it.
  async function served(files: Record<string, string>, name: string) {
    const n = countingNative();
    const dir = unitDir({ [`${name}.socket`]: `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`, ...files });
    engine = new ActivationEngine({ logger: quiet, native: n.api });
    const results = resultsOf(engine);
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket(`${name}.socket`)?.listen[0]?.port as number;
    return { n, port, results };
  }

  it('Condition*=: tested for every instance (a later connection is skipped once it is unmet)', async () => {
    const flag = join(tmp('act-fastcond-'), 'flag');
    writeFileSync(flag, '');
    const { n, port, results } = await served(
      {
        'fc@.service': `[Unit]\nConditionPathExists=${flag}\n[Service]\nExecStart=/bin/echo served\nStandardInput=socket\n`,
      },
      'fc',
    );
    expect(await exchange(port)).toBe('served\n');
    await waitFor(() => results.size === 1, 20_000, 'the first instance to end');
    expect(n.templates).toHaveLength(0);
    expect(await exchange(port)).toBe('served\n');
    rmSync(flag);
    expect(await exchange(port)).toBe('');
    expect(n.spawns()).toBe(2);
  });

  it('OnSuccess=: started after every instance', async () => {
    const marks = join(tmp('act-fastonsucc-'), 'marks');
    const { n, port } = await served(
      {
        'fo@.service': '[Unit]\nOnSuccess=mark.service\n[Service]\nExecStart=/bin/echo hi\nStandardInput=socket\n',
        'mark.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo x >> ${marks}'\n`,
      },
      'fo',
    );
    const count = () => (existsSync(marks) ? readFileSync(marks, 'latin1').split('\n').length - 1 : 0);
    for (let i = 1; i <= 3; i++) {
      expect(await exchange(port)).toBe('hi\n');
      await waitFor(() => count() === i, 20_000, `OnSuccess= after instance ${i}`);
    }
    expect(n.templates).toHaveLength(0);
  });

  it('Wants=: pulled in for every instance', async () => {
    const marks = join(tmp('act-fastwants-'), 'marks');
    const { n, port } = await served(
      {
        'fw@.service':
          '[Unit]\nWants=dep.service\nAfter=dep.service\n[Service]\nExecStart=/bin/echo hi\nStandardInput=socket\n',
        'dep.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo x >> ${marks}'\n`,
      },
      'fw',
    );
    const count = () => (existsSync(marks) ? readFileSync(marks, 'latin1').split('\n').length - 1 : 0);
    for (let i = 1; i <= 3; i++) {
      expect(await exchange(port)).toBe('hi\n');
      expect(count()).toBe(i);
    }
    expect(n.templates).toHaveLength(0);
  });
});

/** Why cgroup tracking cannot be tested here, or undefined. */
function cgroupsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  if (!nativeModule.spawnCgroupSupported()) return 'the addon cannot join cgroups';
  return undefined;
}

const why = cgroupsUnavailable();
describe.skipIf(why !== undefined)('Accept=yes fast path with cgroup tracking', () => {
  let tree: CgroupTree | undefined;
  beforeAll(() => {
    // This test process goes into the tree's daemon leaf, as the daemon does (afterAll: back).
    const found = detectCgroups('auto', join(tmp('act-cgfast-'), 'control.sock'));
    if (!found.tree) throw new Error(`no cgroup tracking here: ${found.reason}`);
    tree = found.tree;
  });
  afterAll(() => tree?.close());

  function start(n: ReturnType<typeof countingNative>): ActivationEngine {
    engine = new ActivationEngine({ logger: quiet, native: n.api, cgroups: tree as CgroupTree });
    return engine;
  }

  it('goes fast after the first instance; each fast instance in its own cgroup named as its unit, removed after exit', async () => {
    const n = countingNative();
    const dir = unitDir({
      'cgn.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'cgn@.service': '[Service]\nExecStart=/bin/cat /proc/self/cgroup\nStandardInput=socket\nStandardOutput=socket\n',
    });
    const e = start(n);
    const names = new Map<number, string>();
    e.on('started', (x) => names.set(x.pid, x.service));
    const results = resultsOf(e);
    expect((await e.start(await loadUnits(dir))).failed).toEqual([]);
    const port = e.socket('cgn.socket')?.listen[0]?.port as number;
    const seen: string[] = [await exchange(port)];
    await waitFor(() => n.templates.length === 1, 10_000, 'the socket to go to the accept thread');
    // The thread was asked to make the cgroups in the tree, and the first instance's cgroup.procs fd
    // is not part of the template.
    expect(n.templates[0]?.cgroupDir).toBe(tree?.base);
    expect(n.templates[0]?.spawn.cgroupFd).toBeUndefined();
    for (let i = 0; i < 4; i++) seen.push(await exchange(port));
    await waitFor(() => results.size === 5, 20_000, 'five instances to end');
    expect(n.spawns()).toBe(1);
    const base = tree?.base as string;
    const dirs = seen.map((out) => {
      const path = /^0::(.*)$/m.exec(out)?.[1] as string;
      return path;
    });
    // Each in `<tree>/<its unit name>`, the regular one (the first) and the thread's alike.
    const units = [...results.keys()];
    expect(dirs.map((d) => basename(d)).sort()).toEqual([...units].sort());
    expect(new Set(dirs.map((d) => basename(dirname(d))))).toEqual(new Set([basename(base)]));
    for (const u of units) expect(u).toMatch(/^cgn@\d+-127\.0\.0\.1:\d+-127\.0\.0\.1:\d+\.service$/);
    // Numbered on as the regular path numbers them.
    expect(units.map((u) => Number(/@(\d+)-/.exec(u)?.[1])).sort()).toEqual([0, 1, 2, 3, 4]);
    // Removed once each instance was over.
    for (const u of units) expect(existsSync(join(base, u))).toBe(false);
    expect([...results.values()].every((r) => r === 'success')).toBe(true);
    expect(names.size).toBe(5);
  });

  it('an instance that leaves a setsid() escapee: the escapee goes once the instance exits, then its cgroup', async () => {
    const n = countingNative();
    const script = join(tmp('act-cgfast-'), 'escape.py');
    writeFileSync(script, ESCAPE_PY);
    const dir = unitDir({
      'cgl.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'cgl@.service': `[Service]\nExecStart=/usr/bin/python3 ${script} leave\nStandardInput=socket\n`,
    });
    const e = start(n);
    const results = resultsOf(e);
    expect((await e.start(await loadUnits(dir))).failed).toEqual([]);
    const port = e.socket('cgl.socket')?.listen[0]?.port as number;
    const first = Number((await exchange(port)).trim());
    expect(first).toBeGreaterThan(0);
    await waitFor(() => n.templates.length === 1, 10_000, 'the socket to go to the accept thread');
    await waitFor(() => results.size === 1, 20_000, 'the first instance to end');
    expect(running(first)).toBe(false);
    const escapee = Number((await exchange(port)).trim());
    expect(escapee).toBeGreaterThan(0);
    const name = await waitFor(() => [...results.keys()][1], 20_000, 'the fast instance to end');
    expect(n.spawns()).toBe(1);
    // The instance ended only once its cgroup was empty, and the cgroup is gone.
    expect(running(escapee)).toBe(false);
    expect(existsSync(join(tree?.base as string, name))).toBe(false);
  });

  it('a stop of a fast instance reaches its setsid() escapee and returns once the cgroup is gone', async () => {
    const n = countingNative();
    const script = join(tmp('act-cgfast-'), 'escape.py');
    writeFileSync(script, ESCAPE_PY);
    const dir = unitDir({
      'cgs.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'cgs@.service': `[Service]\nExecStart=/usr/bin/python3 ${script} stay\nStandardInput=socket\n`,
    });
    const e = start(n);
    const started = new Map<number, string>();
    e.on('started', (x) => started.set(x.pid, x.service));
    expect((await e.start(await loadUnits(dir))).failed).toEqual([]);
    const port = e.socket('cgs.socket')?.listen[0]?.port as number;
    const one = firstLine(port);
    const firstEscapee = Number(await one.line);
    await waitFor(() => n.templates.length === 1, 10_000, 'the socket to go to the accept thread');
    const two = firstLine(port);
    const escapee = Number(await two.line);
    const [, name] = await waitFor(() => started.size === 2 && [...started][1], 20_000, 'the fast instance started');
    expect(n.spawns()).toBe(1);
    const cg = join(tree?.base as string, name);
    expect(readFileSync(join(cg, 'cgroup.procs'), 'latin1').split('\n')).toContain(String(escapee));
    // Its Tasks: count is its cgroup's: the main process and the escapee.
    expect(e.unitInfo(name)?.service?.tasks).toBe(2);
    await e.stopUnit(name);
    expect(running(escapee)).toBe(false);
    expect(existsSync(cg)).toBe(false);
    // The regular instance's the same way.
    await e.stopUnit([...started.values()][0] as string);
    expect(running(firstEscapee)).toBe(false);
    one.c.destroy();
    two.c.destroy();
  });
});
