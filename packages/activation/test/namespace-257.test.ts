/**
 * ProtectSystem=, ProtectHome=, ReadWritePaths=, ReadOnlyPaths= and InaccessiblePaths= as systemd 257
 * (fixtures/v257/namespace, recorded with the oracle by record.sh): each fixture unit's probe reports,
 * per path, its mode, whether `ls` and `touch` work, and the mount holding it (rw/ro); the same unit
 * run here must report the same. /var/lib/nstest becomes a directory of this test's own (with the
 * tmpfs submount nstest-setup.service makes in the oracle); what differs between the oracle's chroot
 * and this host (how many entries /etc has, whether /tmp or /run is a mount of its own) is not compared.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { need, python3, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { type RecordingLogger, testLogger } from './helpers/log.js';
import { clientOnce, loopback, unitDir } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/namespace/', import.meta.url));
const UNITS = readdirSync(FIXTURE)
  .filter((f) => f.endsWith('.service') && f !== 'nstest-setup.service')
  .map((f) => f.slice(0, -'.service'.length))
  .sort();

/** expected.txt: `## NAME.service` → its lines. */
function recorded(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] = [];
  for (const l of readFileSync(join(FIXTURE, 'expected.txt'), 'utf8').split('\n')) {
    const h = /^## (\S+)\.service$/.exec(l);
    if (h) out.set(h[1] as string, (cur = []));
    else if (l && !l.startsWith('#')) cur.push(l);
  }
  return out;
}

/** Where a mount point differs between the oracle's chroot and a host (a mount of its own or not). */
const HOST_MOUNTS = new Set(['/tmp', '/run', '/dev/shm', '/', '/var/tmp', '/etc', '/usr', '/root', '/home']);

/** What of a unit decides what is compared. */
interface Compared {
  /** The directories its namespace empties (PrivateTmp=, ProtectHome=yes/tmpfs): their entry count. */
  empty: ReadonlySet<string>;
  /** NoNewPrivileges=yes: nosuid everywhere it has a namespace. */
  nosuid: boolean;
}

function compared(unitText: string): Compared {
  return {
    empty: emptied(unitText),
    nosuid: /^NoNewPrivileges=yes$/m.test(unitText) && !/^ExecStart=\+/m.test(unitText),
  };
}

function emptied(unitText: string): Set<string> {
  const out = new Set<string>();
  if (/^ExecStart=\+/m.test(unitText)) return out; // a `+` command: no sandboxing
  if (/^PrivateTmp=yes$/m.test(unitText)) for (const p of ['/tmp', '/var/tmp']) out.add(p);
  if (/^ProtectHome=(yes|tmpfs)$/m.test(unitText)) for (const p of ['/home', '/root', '/run/user']) out.add(p);
  return out;
}

/**
 * The comparable facts of a probe's path lines: mode, ls, touch, rw/ro of the mount holding it; the
 * mount point where the namespace decides it (not a host mount point), the entry count below
 * /var/lib/nstest and in the directories the namespace empties; nosuid under NoNewPrivileges=yes,
 * noexec of the namespace's own mounts.
 */
function facts(lines: readonly string[], nstest: string, c: Compared): Record<string, string> {
  const { empty } = c;
  const out: Record<string, string> = {};
  for (const l of lines) {
    if (l.startsWith('[log]') || l.startsWith('[stop-post]') || l === '[main]') continue;
    const [path, ...rest] = l.replaceAll(nstest, '/var/lib/nstest').split(' ');
    const f = Object.fromEntries(rest.map((kv) => kv.split('=') as [string, string]));
    const [point = '', flag = ''] = (f.mount ?? '').split(':');
    const counted = path?.startsWith('/var/lib/nstest') === true || empty.has(path as string);
    out[path as string] = [
      `mode=${f.mode}`,
      `list=${f.list}`,
      `write=${f.write}`,
      flag,
      HOST_MOUNTS.has(point) ? '' : `at=${point}`,
      c.nosuid && (f.flags ?? '').includes('nosuid') ? 'nosuid' : '',
      !HOST_MOUNTS.has(point) && (f.flags ?? '').includes('noexec') ? 'noexec' : '',
      counted ? `entries=${f.entries}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    if (f.missing !== undefined) out[path as string] = 'missing';
  }
  return out;
}

let nstest = '';
let shared = '';
let engine: ActivationEngine | undefined;
let log: RecordingLogger;

beforeAll(() => {
  if (process.getuid?.() !== 0) return;
  // What nstest-setup.service does in the oracle: the directories, a file, a tmpfs submount.
  nstest = mkdtempSync('/var/lib/mptcpd-nstest-');
  chmodSync(nstest, 0o755);
  mkdirSync(join(nstest, 'rw'));
  mkdirSync(join(nstest, 'sub'));
  mkdirSync(join(nstest, 'secret'));
  writeFileSync(join(nstest, 'secret', 's'), 's\n');
  writeFileSync(join(nstest, 'file'), 'f\n');
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(nstest, 'sub')]);
  // The probes outside /tmp (a private /tmp or a read-only one would hide or refuse them) and
  // outside the checkout (which may be below a directory the namespace makes inaccessible).
  shared = mkdtempSync('/dev/shm/nstest-');
  chmodSync(shared, 0o755);
  for (const f of ['probe.sh', 'result.sh']) {
    copyFileSync(join(FIXTURE, f), join(shared, f));
    chmodSync(join(shared, f), 0o755);
  }
});

afterAll(() => {
  if (nstest) {
    execFileSync('umount', [join(nstest, 'sub')]);
    rmSync(nstest, { recursive: true, force: true });
  }
  if (shared) rmSync(shared, { recursive: true, force: true });
});

afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** Runs fixture unit `name` to its end and returns what its probe and result script wrote, and the log. */
async function run(name: string): Promise<{ lines: string[]; logged: string[] }> {
  const outDir = mkdtempSync(join(shared, 'out-'));
  const text = readFileSync(join(FIXTURE, `${name}.service`), 'utf8')
    .replace(/^(Requires|After)=nstest-setup\.service\n/gm, '')
    .replaceAll('/var/lib/nstest', nstest)
    .replaceAll('/probe/', `${shared}/`)
    .replaceAll('/oracle/out', outDir);
  log = testLogger();
  engine = new ActivationEngine({ logger: log });
  await engine.start(await loadUnits(unitDir({ [`${name}.service`]: text })));
  const e = engine;
  const ended = new Promise<void>((resolve) => {
    // The main process' end, or a failed start (the process never ran).
    e.on('service-exit', () => resolve());
    e.on('service-state', (s) => s.state === 'failed' && resolve());
  });
  await e.startUnit(`${name}.service`).catch(() => undefined);
  await ended;
  // ExecStopPost= has run once the unit has settled (stop() waits for it).
  await e.stop();
  engine = undefined;
  const out = join(outDir, `${name}.txt`);
  return {
    lines: existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : [],
    logged: [...log.warnings, ...log.errors],
  };
}

describe('ProtectSystem=, ProtectHome=, ReadWritePaths=, ReadOnlyPaths=, InaccessiblePaths= (systemd 257)', () => {
  const expected = recorded();

  it('the fixture covers what it should', (ctx) => {
    need(ctx, root);
    expect(UNITS).toEqual(
      expect.arrayContaining(['strict', 'full', 'yes', 'home-yes', 'home-tmpfs', 'paths', 'missing', 'nnp']),
    );
    // nosuid is compared where the unit asks for it and seen there.
    expect(expected.get('nnp')?.join('\n')).toMatch(/^\/etc .*flags=nosuid$/m);
    expect(UNITS.length).toBe(expected.size);
    // Sanity of the recording: strict makes /etc read-only, keeps the ReadWritePaths= writable.
    expect(expected.get('strict')?.join('\n')).toMatch(/^\/var\/lib\/nstest\/rw .*write=ok/m);
    expect(expected.get('strict')?.join('\n')).toMatch(/^\/etc .*write=Read-only-file-system/m);
  });

  it.for(UNITS)('%s.service: what its process sees, as under 257', async (name, ctx) => {
    need(ctx, root);
    const want = expected.get(name) ?? [];
    const got = await run(name);
    const c = compared(readFileSync(join(FIXTURE, `${name}.service`), 'utf8'));
    expect(facts(got.lines, nstest, c), got.logged.join('\n')).toEqual(facts(want, nstest, c));
    // A process that failed before it ran: 226/NAMESPACE, with the path and errno in the log; then,
    // as in 257, ExecStopPost= runs with SERVICE_RESULT=exit-code EXIT_CODE=exited EXIT_STATUS=226
    // (the `[stop-post]` line).
    const why = want.find((l) => l.includes('Failed to set up mount namespacing'));
    if (why !== undefined) {
      const path = /namespacing: (\S+):/.exec(why)?.[1] ?? '';
      expect(got.lines).toEqual(want.filter((l) => l.startsWith('[stop-post]')));
      expect(got.logged.join('\n')).toMatch(/status=226\/NAMESPACE/);
      expect(path).not.toBe('');
      // 257's words for it (setup_namespace(): the path and strerror).
      expect(got.logged).toContain(`${name}.service: ${why.replace(/^\[log\] /, '')}`);
    }
  });

  it('Accept=yes: every instance gets the namespace (the regular path, never the fast one)', async (ctx) => {
    need(ctx, root, python3);
    const addr = await loopback();
    log = testLogger();
    engine = new ActivationEngine({ logger: log });
    const probe = `/bin/sh -c 'touch /etc/.nstest-$$$$ 2>&1 | sed "s/.*: //"; ls -A /root | wc -l; touch ${nstest}/rw/.x && echo rw'`;
    await engine.start(
      await loadUnits(
        unitDir({
          'ns.socket': `[Socket]\nListenStream=${addr}\nAccept=yes\n`,
          'ns@.service': `[Service]\nExecStart=${probe}\nStandardInput=socket\nProtectSystem=strict\nProtectHome=tmpfs\nReadWritePaths=${nstest}/rw\n`,
        }),
      ),
    );
    const port = Number(addr.split(':')[1]);
    for (let n = 0; n < 2; n++) {
      const reply = await clientOnce(port, { tcp: true });
      expect(reply.received).toBe('Read-only file system\n0\nrw\n');
    }
    expect(log.errors).toEqual([]);
  });
});
