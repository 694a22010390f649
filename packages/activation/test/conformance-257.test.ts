/**
 * Activation facts: what the engine hands a service, compared with what systemd 257 handed the
 * same units (recorded by packages/unit/scripts/record-257-activation.mjs with `oracle.sh activate`
 * into fixtures/v257/activation.json). Per scenario the same unit files run here with the service
 * replaced by fixtures/v257/facts.py (the twin of the oracle's dump.py) and the same clients; the
 * compared facts: the service (instance) names, LISTEN_FDS, LISTEN_FDNAMES, REMOTE_ADDR/PORT,
 * LISTEN_PID, and per fd its order, kind, SO_DOMAIN/SO_TYPE/SO_PROTOCOL/SO_ACCEPTCONN,
 * O_NONBLOCK/FD_CLOEXEC, address, node and directory modes, TCP options, MPTCP or not. Ports, the
 * runtime directory, abstract names and client ports/pids are normalised on both sides.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { mptcp, need, python3 } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { freePort, waitFor } from './helpers/run.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/v257');
const FACTS = join(FIXTURES, 'facts.py');
const CLIENT = join(FIXTURES, 'client.py');

interface Scenario {
  unit: string;
  env: Record<string, string>;
  files: Record<string, string>;
  rc: number;
  output: string[];
}
const recording = JSON.parse(readFileSync(join(FIXTURES, 'activation.json'), 'utf8')) as {
  recordedWith: string;
  scenarios: Record<string, Scenario>;
};

/**
 * Where systemd 257 is not stable: with two sockets for one service, the fd order (and so
 * LISTEN_FDNAMES) varied between boots (a.socket:b.socket in some, b.socket:a.socket in others). The
 * engine keeps one order, the service's sockets in name order; the facts are compared per fd.
 */
const UNSTABLE_ORDER = new Set(['two-sockets']);

/** Per-fd facts without the fd numbers, sorted; LISTEN_FDNAMES sorted. */
function orderFree(lines: string[]): string[] {
  return lines
    .map((l) =>
      l
        .replace(/^FD \d+ /, 'FD * ')
        .replace(
          /^(ENV LISTEN_FDNAMES=')(.*)'$/,
          (_m, p: string, v: string) => `${p}${v.split(':').sort().join(':')}'`,
        ),
    )
    .sort();
}

/** Scenarios compared elsewhere, with the reason. */
const NOT_HERE: Record<string, string> = {
  'mptcp-disabled':
    'needs net.mptcp.enabled=0 in a network namespace: mptcp-unavailable.test.ts checks the engine there',
};

let engine: ActivationEngine | undefined;
let work: string | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  if (work) rmSync(work, { recursive: true, force: true });
  work = undefined;
});

interface Rewrite {
  ports: Map<string, string>;
  runDir: string;
  tag: string;
}

/** The facts lines of dump.py/facts.py output, normalised. */
function facts(lines: readonly string[], s: Scenario, rw: Rewrite | undefined): string[] {
  const congestion = Object.values(s.files).some((t) => t.includes('TCPCongestion='));
  const keep =
    /^(UNIT |ENV (LISTEN_FDS|LISTEN_FDNAMES|REMOTE_ADDR|REMOTE_PORT)=|LISTEN_PID_IS_SELF |FD \d+ (domain=|fifo|chr|sockname|node mode|MPTCP_INFO|options))/;
  return lines
    .map((l) => l.trim())
    .filter((l) => keep.test(l))
    .map((l) => {
      let x = l;
      if (rw) {
        for (const [ours, theirs] of rw.ports) x = x.split(ours).join(theirs);
        x = x.split(`${rw.runDir}/`).join('/run/').split(`b257-${rw.tag}-`).join('b257-');
      }
      x = x.replace(/(REMOTE_PORT=)'\d+'/, "$1'PEER'");
      if (x.startsWith('UNIT '))
        x = x
          .replace(/-(127\.0\.0\.1|::1):(\d+)\.service$/, '-$1:PEER.service')
          .replace(/@(\d+)-\d+-(\d+)\.service$/, '@$1-PID-$2.service');
      x = x.replace(/MPTCP_INFO len \d+/, 'MPTCP_INFO len N').replace(/ uid \d+ gid \d+;/, ';');
      if (!congestion) x = x.replace(/ congestion=\S+/, '');
      return x;
    });
}

/** The dump lines of the recorded run (the "== dump UNIT" blocks), and the manager's error lines. */
function recorded(s: Scenario): { dump: string[]; errors: string[] } {
  const dump: string[] = [];
  const errors: string[] = [];
  let inDump = false;
  for (const l of s.output) {
    if (l.startsWith('== ')) inDump = l.startsWith('== dump ');
    else if (inDump) dump.push(l.trim());
    if (/<2[0-7]>systemd\[1\]: .*Failed to create listening socket/.test(l))
      errors.push(l.replace(/^.*systemd\[1\]: [^:]+: /, ''));
  }
  return { dump, errors };
}

function client(kind: string, addr: string, port?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'python3',
      [CLIENT, kind, addr, ...(port ? [port] : [])],
      { timeout: 30_000, encoding: 'utf8' },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${kind} ${addr} ${port ?? ''}: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

/** The clients the oracle ran, in Listen order: inet streams and datagrams; AF_UNIX with ORACLE_UNIX=1. */
function clientsFor(s: Scenario, text: string): Array<{ kind: string; addr: string; port?: string }> {
  const mptcpSock = /SocketProtocol=mptcp/.test(text);
  const out: Array<{ kind: string; addr: string; port?: string }> = [];
  for (const m of text.matchAll(/^Listen(Stream|Datagram|SequentialPacket)=(.*)$/gm)) {
    const [, kind, value] = m as unknown as [string, string, string];
    const inet = /^(?:\[(.*)\]|([\d.]+)):(\d+)$/.exec(value);
    if (inet) {
      const host = s.env['ORACLE_CONNECT_HOST'] ?? inet[1] ?? inet[2] ?? '127.0.0.1';
      if (kind === 'Datagram') out.push({ kind: 'udp', addr: host, port: inet[3] });
      else if (kind === 'Stream')
        out.push({ kind: mptcpSock ? 'mptcp' : 'tcp', addr: host === '::' ? '::1' : host, port: inet[3] });
    } else if (s.env['ORACLE_UNIX'] === '1' && kind !== 'Datagram')
      out.push({ kind: kind === 'Stream' ? 'unix' : 'unix-seqpacket', addr: value });
  }
  const n = Number(s.env['ORACLE_CONNECTIONS'] ?? 1);
  return out.flatMap((c) => Array.from({ length: n }, () => c));
}

describe(`activation facts vs ${recording.recordedWith}`, () => {
  for (const [name, s] of Object.entries(recording.scenarios)) {
    const skip = NOT_HERE[name];
    it.skipIf(skip !== undefined)(`${name}${skip ? ` (${skip})` : ''}`, async (ctx) => {
      need(ctx, python3, ...(Object.values(s.files).some((t) => t.includes('SocketProtocol=mptcp')) ? [mptcp] : []));
      work = mkdtempSync(join(tmpdir(), 'act-257-'));
      const units = join(work, 'units');
      const out = join(work, 'out');
      const runDir = join(work, 'run');
      mkdirSync(out);
      mkdirSync(runDir);
      chmodSync(runDir, 0o755);
      const rw: Rewrite = { ports: new Map(), runDir, tag: Math.random().toString(36).slice(2, 8) };
      // Fresh ports, runtime directory and abstract names for the recorded ones.
      const rewrite = async (t: string): Promise<string> => {
        let x = t.replaceAll('/run/', `${runDir}/`).replaceAll('@b257-', `@b257-${rw.tag}-`);
        for (const p of new Set(x.match(/\b196\d\d\b/g) ?? [])) {
          const fresh = [...rw.ports].find(([, theirs]) => theirs === p)?.[0] ?? String(await freePort());
          rw.ports.set(fresh, p);
          x = x.replaceAll(p, fresh);
        }
        return x;
      };
      let socketText = '';
      for (const [rel, text] of Object.entries(s.files)) {
        mkdirSync(dirname(join(units, rel)), { recursive: true });
        const t = rel.endsWith('.service')
          ? `[Service]\nExecStart=/usr/bin/python3 ${FACTS} %n ${out}\n`
          : await rewrite(text);
        // The sockets the clients use: the started one, or (a service started directly, as the
        // oracle did) all of them, whose connections trigger it here.
        if (rel === s.unit || (s.unit.endsWith('.service') && rel.endsWith('.socket'))) socketText += t;
        writeFileSync(join(units, rel), t);
      }
      const want = recorded(s);
      engine = new ActivationEngine({ logger: testLogger() });
      const report = await engine.start(await loadUnits(units));
      if (s.rc !== 0) {
        // systemd 257 refused to listen: so must we, with the same errno text.
        const failure = report.failed.find((f) => f.unit === s.unit);
        expect(failure, JSON.stringify(report)).toBeDefined();
        expect(want.errors.length, 'recorded error lines').toBeGreaterThan(0);
        // The same line as systemd's (paths normalised), then our hint.
        const ours = (failure?.error ?? '').split(`${runDir}/`).join('/run/');
        for (const e of want.errors) expect(ours).toContain(e);
        if (name === 'mptcp-on-unix') expect(ours).toContain('X-MPTCPFallback=');
        if (process.env['ACT_257_SHOW'] === '1') console.log(name, failure?.error, want.errors);
        return;
      }
      expect(report.failed).toEqual([]);
      for (const c of clientsFor(s, socketText)) await client(c.kind, c.addr, c.port);
      const services = [...new Set(want.dump.filter((l) => l.startsWith('UNIT ')))].length;
      const files = (): string[] => listDone(out);
      await waitFor(() => files().length >= services || undefined, 30_000, `${services} service(s) to report`);
      // A service's first run: a later client (the datagram, the FIFO…) reaching the socket after
      // that run exited starts it again, as 257 would; the recording has the first run only.
      const ours = files().flatMap((f) => firstRun(readFileSync(join(out, f), 'utf8').split('\n')));
      const theirs = facts(want.dump, s, undefined);
      expect(theirs.filter((l) => l.startsWith('FD ')).length, 'recorded fd facts').toBeGreaterThan(0);
      if (process.env['ACT_257_SHOW'] === '1') console.log(name, facts(ours, s, rw).join('\n'));
      if (UNSTABLE_ORDER.has(name)) {
        const mine = facts(ours, s, rw);
        expect(orderFree(mine)).toEqual(orderFree(theirs));
        expect(mine.find((l) => l.startsWith('ENV LISTEN_FDNAMES='))).toBe("ENV LISTEN_FDNAMES='a.socket:b.socket'");
        return;
      }
      expect(sortBlocks(facts(ours, s, rw))).toEqual(sortBlocks(theirs));
    });
  }
});

/** The lines of a report file up to its first run's `DONE` line (facts.py appends each run). */
function firstRun(lines: string[]): string[] {
  const done = lines.findIndex((l) => l.startsWith('DONE '));
  return done < 0 ? lines : lines.slice(0, done + 1);
}

/** facts.py output files whose service finished (a DONE line). */
function listDone(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .filter((f) => readFileSync(join(dir, f), 'utf8').includes('\nDONE '));
}

/** Service blocks (UNIT … lines) in a stable order: instance numbers decide, not file names. */
function sortBlocks(lines: string[]): string[][] {
  const blocks: string[][] = [];
  for (const l of lines) {
    if (l.startsWith('UNIT ') || blocks.length === 0) blocks.push([]);
    blocks.at(-1)?.push(l);
  }
  return blocks.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
}
