/**
 * The exec context a service's processes get, as systemd 257 (fixtures/v257/exec-context, recorded
 * with the oracle by record.sh): SIGPIPE ignored (IgnoreSIGPIPE= default yes), umask 0022,
 * RLIMIT_NOFILE soft 1024 with the manager's hard limit, the rest inherited; and with every
 * directive set (IgnoreSIGPIPE=no, UMask=, Limit*=, Nice=, OOMScoreAdjust=, NoNewPrivileges=), for
 * ExecStartPre= (a control process) and ExecStart= alike; a `+` command without the limits. The
 * probe reads its own /proc/$$.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { tmp, unitDir } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/exec-context/', import.meta.url));
const expected = readFileSync(join(FIXTURE, 'expected.txt'), 'utf8');

/** `## <title>` block of expected.txt → `[pre]`/`[main]` → lines. */
function recorded(title: string): Map<string, string[]> {
  const start = expected.indexOf(`## ${title}\n`);
  if (start < 0) throw new Error(`expected.txt has no ## ${title}`);
  const body = expected.slice(start + title.length + 4).split(/^## /m)[0] as string;
  const out = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of body.split('\n').filter(Boolean)) {
    const head = /^\[(\w+)\]$/.exec(line);
    if (head) out.set(head[1] as string, (current = []));
    else current.push(line);
  }
  return out;
}

/** The probe's limit lines for this (the daemon's) process: what a service inherits unless set. */
function ownLimits(): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync('/proc/self/limits', 'utf8').split('\n').slice(1).filter(Boolean)) {
    const name = line.slice(0, 26).trim();
    out.set(name, `limit ${name}|${line.slice(26).trim().replace(/ +/g, ' ')}`);
  }
  return out;
}

/** systemd's fallback_rlimit_nofile() + setrlimit_closest() for a manager with our limits and caps. */
function defaultNofileHard(): string {
  const own = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] as string;
  const caps = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`);
  if (process.getuid?.() !== 0 || (caps & (1n << 24n)) === 0n) return own; // cannot raise: stays
  const nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8'));
  return String(Math.min(nrOpen, Math.max(Number(own), 512 * 1024)));
}

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

async function probe(unit: string): Promise<Map<string, string[]>> {
  const out = join(tmp('exec-context-'), `${unit}.txt`);
  const text = readFileSync(join(FIXTURE, `${unit}.service`), 'utf8')
    .replaceAll('/probe/probe.sh', join(FIXTURE, 'probe.sh'))
    .replaceAll(`/oracle/out/${unit}.txt`, out);
  engine = new ActivationEngine({ logger: testLogger() });
  await engine.start(await loadUnits(unitDir({ [`${unit}.service`]: text })));
  const exited = new Promise<void>((resolve) => engine?.on('service-exit', () => resolve()));
  await engine.startUnit(`${unit}.service`);
  await exited;
  expect(existsSync(out)).toBe(true);
  const got = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of readFileSync(out, 'utf8').split('\n').filter(Boolean)) {
    const head = /^\[(\w+)\]$/.exec(line);
    if (head) got.set(head[1] as string, (current = []));
    else current.push(line);
  }
  return got;
}

/**
 * What 257 recorded, with the limits the unit does not set taken from this process (257's came from
 * its manager's, i.e. the recording host's); `set` names the limits the unit sets.
 */
function want(rec: string[], set: ReadonlySet<string>, nofile?: string): string[] {
  const own = ownLimits();
  return rec.map((line) => {
    const m = /^limit ([^|]+)\|/.exec(line);
    if (!m) return line;
    const name = m[1] as string;
    if (set.has(name)) return line;
    if (name === 'Max open files' && nofile !== undefined) return `limit Max open files|1024 ${nofile} files`;
    return own.get(name) ?? line;
  });
}

describe('exec context of main and control processes (systemd 257)', () => {
  it('defaults: SIGPIPE ignored, nothing blocked, umask 0022, NOFILE 1024:<manager hard>, nice/oom/other limits inherited', async () => {
    const got = await probe('defaults');
    const rec = recorded('defaults.service');
    for (const which of ['pre', 'main']) {
      const lines = rec.get(which) as string[];
      expect(lines).toContain('SigIgn: 0000000000001000'); // the fixture itself: 257 ignores SIGPIPE only
      const ownOom = readFileSync('/proc/self/oom_score_adj', 'utf8').trim();
      const wanted = want(lines, new Set(), defaultNofileHard()).map((l) =>
        l.startsWith('oom_score_adj ') ? `oom_score_adj ${ownOom}` : l,
      );
      expect(got.get(which)).toEqual(wanted);
    }
  });

  it('every directive set: IgnoreSIGPIPE=no, UMask=0027, Limit*=, Nice=7, OOMScoreAdjust=345, NoNewPrivileges=yes', async () => {
    const got = await probe('set');
    const rec = recorded('set.service');
    const set = new Set([
      'Max open files',
      'Max core file size',
      'Max processes',
      'Max stack size',
      'Max locked memory',
    ]);
    for (const which of ['pre', 'main']) {
      const wanted = want(rec.get(which) as string[], set);
      expect(wanted).toContain('NoNewPrivs: 1');
      expect(wanted).toContain('limit Max open files|4096 8192 files');
      expect(got.get(which)).toEqual(wanted);
    }
  });

  it("a `+` command keeps the manager's own limits (257 sets Limit*= only with sandboxing); `!` and plain commands get them; UMask=/Nice= apply to all", async () => {
    const got = await probe('plus');
    const rec = recorded('plus.service');
    const own = ownLimits();
    // `+`: every limit is the manager's (257's: its PID 1's; ours: this daemon process's).
    const plus = (rec.get('plus') as string[]).map((l) => {
      const m = /^limit ([^|]+)\|/.exec(l);
      return m ? (own.get(m[1] as string) ?? l) : l;
    });
    expect(plus).toContain('nice 7');
    expect(plus).toContain('umask 0027');
    expect(got.get('plus')).toEqual(plus);
    const set = new Set(['Max open files', 'Max core file size', 'Max processes']);
    for (const which of ['bang', 'main']) {
      const wanted = want(rec.get(which) as string[], set);
      expect(wanted).toContain('limit Max open files|4096 8192 files');
      expect(got.get(which)).toEqual(wanted);
    }
  });

  it('a daemon whose own hard NOFILE is 4096 gives 1024:4096, as 257 started with that limit (the built package, under prlimit)', async () => {
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    if (!existsSync(dist)) throw new Error(`${dist} is missing: build the package first (npx tsc -p tsconfig.json)`);
    const caps = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`);
    const out = join(tmp('exec-context-'), 'defaults.txt');
    const text = readFileSync(join(FIXTURE, 'defaults.service'), 'utf8')
      .replaceAll('/probe/probe.sh', join(FIXTURE, 'probe.sh'))
      .replaceAll('/oracle/out/defaults.txt', out);
    const dir = unitDir({ 'defaults.service': text });
    execFileSync(
      'prlimit',
      [
        '--nofile=1024:4096',
        '--',
        process.execPath,
        fileURLToPath(new URL('./helpers/exec-context-daemon.mjs', import.meta.url)),
        dir,
        'defaults.service',
      ],
      { stdio: ['ignore', 'inherit', 'inherit'], timeout: 60_000 },
    );
    const got = readFileSync(out, 'utf8');
    const rec = recorded('defaults.service, manager NOFILE hard 4096');
    const nofile = (lines: string): string | undefined => /^limit Max open files\|.*$/m.exec(lines)?.[0];
    // 257 (root, without CAP_SYS_RESOURCE here) wanted 512 Ki and got the manager's 4096; with the
    // capability both would raise it to MIN(nr_open, 512 Ki).
    const want =
      process.getuid?.() === 0 && (caps & (1n << 24n)) !== 0n
        ? `limit Max open files|1024 ${Math.min(Number(readFileSync('/proc/sys/fs/nr_open', 'utf8')), 512 * 1024)} files`
        : nofile((rec.get('main') as string[]).join('\n'));
    expect(want).toBeDefined();
    const [pre, main] = got.split(/^\[main\]$/m);
    expect(nofile(pre as string)).toBe(want);
    expect(nofile(main as string)).toBe(want);
  });
});
