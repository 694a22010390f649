/**
 * CapabilityBoundingSet= and AmbientCapabilities= as systemd 257 applies them
 * (fixtures/v257/capabilities, recorded with the oracle by record.sh): the sets and ids each probe
 * process read from its own /proc/$$/status, for list/`~`/empty/merged assignments, ambient with and
 * without User= (KEEP_CAPS across the switch), ambient outside the bounding set (left out), and `+`
 * (no sandboxing). The masks are compared within the capabilities both the recording manager and
 * this daemon hold in their bounding sets. Also: a bounding set the daemon cannot drop (no
 * CAP_SETPCAP, as an unprivileged daemon) fails the process with 218/CAPABILITIES.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { need, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { tmp, unitDir } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/capabilities/', import.meta.url));
const expected = readFileSync(join(FIXTURE, 'expected.txt'), 'utf8');
const UNITS = readdirSync(FIXTURE)
  .filter((f) => f.endsWith('.service'))
  .map((f) => f.slice(0, -'.service'.length));

/** `## NAME.service` block of expected.txt → `Key value` lines. */
function recorded(name: string): Map<string, string> {
  const start = expected.indexOf(`## ${name}.service\n`);
  if (start < 0) throw new Error(`expected.txt has no ## ${name}.service`);
  const body = expected.slice(start).split('\n').slice(1);
  const end = body.findIndex((l) => l.startsWith('## '));
  return lines(body.slice(0, end < 0 ? undefined : end).join('\n'));
}

function lines(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of text.split('\n')) {
    const m = /^(\w+):\s+(.*)$/.exec(l);
    if (m) out.set(m[1] as string, (m[2] as string).replace(/\s+/g, ' '));
  }
  return out;
}

const ownBnd = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`);
const managerBnd = BigInt(`0x${recorded('defaults').get('CapBnd') ?? '0'}`);
/** The capabilities both the recording manager and this process have: the comparable ones. */
const BOTH = ownBnd & managerBnd;

function comparable(m: Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of m) out[k] = k.startsWith('Cap') ? (BigInt(`0x${v}`) & BOTH).toString(16) : v;
  return out;
}

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/**
 * probe.sh copied to a directory every user can reach: a probe that runs as nobody (User=) cannot
 * exec it from a checkout below a 0700 directory (a CI clone in a mktemp -d).
 */
function probeScript(): string {
  const dir = mkdtempSync('/dev/shm/caps-probe-');
  chmodSync(dir, 0o755);
  const script = join(dir, 'probe.sh');
  copyFileSync(join(FIXTURE, 'probe.sh'), script);
  chmodSync(script, 0o755);
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return script;
}

/** Runs fixture unit `name` (its probe writes to a fresh directory) and reads what the probe saw. */
async function probe(name: string): Promise<Map<string, string>> {
  const outDir = tmp('caps-');
  const text = readFileSync(join(FIXTURE, `${name}.service`), 'utf8')
    .replaceAll('/probe/probe.sh', probeScript())
    .replaceAll('/oracle/out', outDir);
  engine = new ActivationEngine({ logger: testLogger() });
  await engine.start(await loadUnits(unitDir({ [`${name}.service`]: text })));
  const exited = new Promise<void>((resolve) => engine?.on('service-exit', () => resolve()));
  await engine.startUnit(`${name}.service`);
  await exited;
  const out = join(outDir, `${name}.txt`);
  expect(existsSync(out), `${name}: the probe wrote nothing`).toBe(true);
  return lines(readFileSync(out, 'utf8'));
}

describe('CapabilityBoundingSet= and AmbientCapabilities= (systemd 257)', () => {
  it('the fixture covers what it should, and the daemon runs as root with CAP_SETPCAP', (ctx) => {
    need(ctx, root);
    expect(UNITS.length).toBeGreaterThanOrEqual(16);
    expect(ownBnd & (1n << 8n)).not.toBe(0n);
    // Sanity of the recording: a restricted bounding set really is one.
    expect(recorded('bset').get('CapBnd')).toBe('0000000000002400');
  });

  it.for(UNITS)('%s.service: the sets and ids 257 gave its process', async (name, ctx) => {
    need(ctx, root);
    const got = await probe(name);
    expect(comparable(got)).toEqual(comparable(recorded(name)));
  });

  it('a daemon without CAP_SETPCAP cannot drop the bounding set: 218/CAPABILITIES, result exit-code', (ctx) => {
    need(ctx, root);
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    if (!existsSync(dist)) throw new Error(`${dist} is missing: build the package first (npx tsc -p tsconfig.json)`);
    const outDir = tmp('caps-');
    execFileSync('chmod', ['1777', outDir]);
    const dir = unitDir({
      'drop.service': `[Service]\nType=oneshot\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\nExecStart=/bin/sh -c 'echo ran > ${outDir}/ran'\n`,
      'plain.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo ran > ${outDir}/plain'\n`,
    });
    execFileSync('chmod', ['-R', 'a+rX', dir]);
    const helper = fileURLToPath(new URL('./helpers/caps-daemon.mjs', import.meta.url));
    // Still root (the checkout stays readable wherever it lives), without CAP_SETPCAP: dropped from
    // the bounding set, root's execve leaves it out of the permitted and effective sets.
    const withoutSetpcap = (unit: string): { code: number; result: string; logged: string[] } =>
      JSON.parse(
        execFileSync('setpriv', ['--bounding-set=-setpcap', process.execPath, helper, dir, unit], {
          encoding: 'utf8',
          timeout: 60_000,
        }),
      ) as { code: number; result: string; logged: string[] };
    const drop = withoutSetpcap('drop.service');
    expect(drop).toMatchObject({ code: 218, result: 'exit-code' });
    expect(drop.logged.join('\n')).toMatch(/status=218\/CAPABILITIES/);
    expect(drop.logged.join('\n')).toMatch(/prctl EPERM .*PR_CAPBSET_DROP/);
    expect(existsSync(join(outDir, 'ran'))).toBe(false);
    // The same daemon starts a unit without the directive.
    expect(withoutSetpcap('plain.service')).toMatchObject({ code: 0, result: 'success' });
    expect(readFileSync(join(outDir, 'plain'), 'utf8')).toBe('ran\n');
  });
});
