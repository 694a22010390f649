/**
 * `run --metrics`: the daemon in its own namespace, a real MPTCP client from a peer namespace over a
 * veth. /metrics must pass `promtool check metrics` (Prometheus text) and the strict OpenMetrics
 * parser of prometheus_client (OpenMetrics, by Accept); only loopback and --status-allow networks
 * are served; headless Chromium must render the status page with the live connection and keep
 * updating it (the screenshot is kept).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mptcpUnavailable, need, netnsUnavailable, python3Unavailable } from './helpers/capability.js';
import { HELPERS, startCli, startProcess, stopProcess, type Running } from './helpers/cli.js';
import { tempDir, writeEchoUnits } from './helpers/units.js';

const ID = process.pid % 100000;
const NS_D = `mdl-md${ID}`;
const NS_C = `mdl-mc${ID}`;
const NET = `10.${60 + (ID % 50)}.${ID % 250}`;
const METRICS = 9109;
const procs: Running[] = [];
let dir = '';
let ready = false;
let client: Running | undefined;

const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
const curl = (ns: string, args: string[]): { code: number | null; out: string } => {
  const r = spawnSync(
    'ip',
    ['netns', 'exec', ns, 'curl', '-s', '-o', '-', '-w', '\n%{http_code}', '--max-time', '20', ...args],
    { encoding: 'utf8' },
  );
  const lines = r.stdout.split('\n');
  return { code: Number(lines.pop()), out: lines.join('\n') };
};
const base = `http://127.0.0.1:${METRICS}`;

function missing(): string | undefined {
  return (
    netnsUnavailable() ??
    mptcpUnavailable() ??
    python3Unavailable() ??
    (spawnSync('curl', ['--version']).status === 0 ? undefined : 'curl is needed')
  );
}

beforeAll(async () => {
  if (missing()) return;
  ip('netns', 'add', NS_D);
  ip('netns', 'add', NS_C);
  ip('-n', NS_D, 'link', 'set', 'lo', 'up');
  ip('-n', NS_D, 'link', 'add', 'md0', 'type', 'veth', 'peer', 'name', 'mc0', 'netns', NS_C);
  ip('-n', NS_D, 'addr', 'add', `${NET}.1/24`, 'dev', 'md0');
  ip('-n', NS_C, 'addr', 'add', `${NET}.2/24`, 'dev', 'mc0');
  ip('-n', NS_C, 'addr', 'add', `${NET}.3/24`, 'dev', 'mc0');
  ip('-n', NS_D, 'link', 'set', 'md0', 'up');
  ip('-n', NS_C, 'link', 'set', 'mc0', 'up');
  dir = tempDir('mdl-metrics-');
  const units = writeEchoUnits(dir, 7009);
  const daemon = startCli(
    [
      'run',
      '--units',
      units,
      '--control',
      path.join(dir, 'c.sock'),
      '--metrics',
      `0.0.0.0:${METRICS}`,
      '--status-allow',
      `${NET}.2/32`,
    ],
    { netns: NS_D },
  );
  procs.push(daemon);
  await daemon.waitFor(/metrics: serving http:\/\/0\.0\.0\.0:9109\//, 30_000);
  client = startProcess(
    'ip',
    ['netns', 'exec', NS_C, 'python3', path.join(HELPERS, 'held-client.py'), `${NET}.1`, '7009'],
    { stdin: 'pipe' },
  );
  procs.push(client);
  await client.waitFor(/^CONNECTED \d+/, 30_000);
  ready = true;
}, 90_000);

afterAll(async () => {
  client?.child.stdin?.end();
  for (const p of procs.reverse()) await stopProcess(p, 'SIGTERM');
  for (const ns of [NS_D, NS_C]) spawnSync('ip', ['netns', 'del', ns]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('run --metrics', () => {
  it('serves Prometheus text that promtool accepts, with the socket, service and MPTCP figures', (ctx) => {
    need(
      ctx,
      missing() ??
        (spawnSync('promtool', ['--version']).status === 0
          ? undefined
          : 'promtool (Debian package prometheus) is needed'),
    );
    expect(ready).toBe(true);
    const r = curl(NS_D, [`${base}/metrics`]);
    expect(r.code).toBe(200);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: r.out, encoding: 'utf8' });
    expect(lint.status, `${lint.stdout}${lint.stderr}`).toBe(0);
    expect(r.out).toMatch(/^mptcpd_lite_socket_accepted_connections_total\{socket="echo\.socket"\} [1-9]/m);
    expect(r.out).toMatch(/^mptcpd_lite_socket_mptcp_connections\{socket="echo\.socket",mode="mptcp"\} 1$/m);
    expect(r.out).toMatch(
      /^mptcpd_lite_socket_listen_info\{socket="echo\.socket",address="0\.0\.0\.0:7009",protocol="mptcp"\} 1$/m,
    );
    expect(r.out).toMatch(/^mptcpd_lite_service_state\{service="echo@[^"]+\.service",state="active"\} 1$/m);
    expect(r.out).toMatch(/^mptcpd_lite_mptcp_subflows [1-9]/m);
    expect(r.out).toMatch(/^mptcpd_lite_mptcp_endpoints 0$/m);
    expect(r.out).toMatch(/^mptcpd_lite_kernel_mptcp_events_total\{counter="MPCapableSYNRX"\} [1-9]/m);
  });

  it('serves OpenMetrics to a client that asks for it, which the strict parser accepts', (ctx) => {
    const py = '/usr/bin/python3';
    need(
      ctx,
      missing() ??
        (spawnSync(py, ['-c', 'import prometheus_client']).status === 0
          ? undefined
          : 'python3-prometheus-client (Debian) is needed'),
    );
    const r = curl(NS_D, [
      '-H',
      'Accept: application/openmetrics-text; version=1.0.0,text/plain;q=0.5',
      `${base}/metrics`,
    ]);
    expect(r.code).toBe(200);
    expect(r.out.endsWith('# EOF\n')).toBe(true);
    const parse = spawnSync(
      py,
      [
        '-c',
        'import sys, json\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\nprint(json.dumps({f.name: [[s.name, s.labels, s.value] for s in f.samples] for f in p(sys.stdin.read())}))',
      ],
      { input: r.out, encoding: 'utf8' },
    );
    expect(parse.status, parse.stderr).toBe(0);
    const fams = JSON.parse(parse.stdout) as Record<string, Array<[string, Record<string, string>, number]>>;
    expect(fams.mptcpd_lite_socket_accepted_connections?.[0]?.[0]).toBe(
      'mptcpd_lite_socket_accepted_connections_total',
    );
    expect(fams.mptcpd_lite_build?.[0]?.[0]).toBe('mptcpd_lite_build_info');
    expect(fams.mptcpd_lite_mptcp_connections).toEqual(
      expect.arrayContaining([['mptcpd_lite_mptcp_connections', { mode: 'mptcp' }, 1]]),
    );
  });

  it('serves loopback and --status-allow networks only', (ctx) => {
    need(ctx, missing());
    const remote = `http://${NET}.1:${METRICS}/metrics`;
    const denied = curl(NS_C, ['--interface', `${NET}.3`, remote]);
    expect(denied.code).toBe(403);
    expect(denied.out).toContain(`${NET}.3 is not allowed`);
    expect(curl(NS_C, ['--interface', `${NET}.2`, remote]).code).toBe(200);
    expect(curl(NS_D, [`${base}/status.json`]).code).toBe(200);
  });

  it('the status page renders in headless Chromium with the live connection and updates itself', (ctx) => {
    need(ctx, missing() ?? (existsSync('/usr/bin/chromium') ? undefined : 'chromium (Debian package) is needed'));
    const profile = tempDir('mdl-chromium-');
    const shot = process.env.MPTCPD_STATUS_SCREENSHOT ?? path.join(dir, 'status-page.png');
    const flags = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      '--virtual-time-budget=4000',
      '--window-size=1280,900',
    ];
    try {
      const dom = spawnSync('ip', ['netns', 'exec', NS_D, '/usr/bin/chromium', ...flags, '--dump-dom', `${base}/`], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(dom.status, dom.stderr.slice(-2000)).toBe(0);
      const html = dom.stdout;
      // Rendered by the page's script from the data (the served HTML has empty tables).
      expect(html).toMatch(/<tr data-unit="echo\.socket"><td>echo\.socket<\/td><td class="ok">listening<\/td>/);
      expect(html).toMatch(
        /<tr class="conn" data-token="[0-9a-f]{8}"><td>[0-9a-f]{8}<\/td><td class="ok">ESTAB<\/td><td>[^<]*:7009 ⇄ /,
      );
      expect(html).toMatch(/<tr class="sub" data-token="[0-9a-f]{8}"><td>subflow /);
      expect(html).toMatch(/<tr data-unit="echo@[^"]+\.service"><td>[^<]+<\/td><td class="ok">active<\/td>/);
      // Live: the page fetched /status.json again and re-rendered at least twice.
      const updates = Number(/id="live" data-updates="(\d+)"/.exec(html)?.[1] ?? 0);
      expect(updates).toBeGreaterThanOrEqual(2);
      // Self-contained: nothing loaded from elsewhere.
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
      const png = spawnSync(
        'ip',
        ['netns', 'exec', NS_D, '/usr/bin/chromium', ...flags, `--screenshot=${shot}`, `${base}/`],
        { encoding: 'utf8', timeout: 120_000 },
      );
      expect(png.status, png.stderr.slice(-2000)).toBe(0);
      expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
      expect(statSync(shot).size).toBeGreaterThan(10_000);
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  }, 240_000);
});
