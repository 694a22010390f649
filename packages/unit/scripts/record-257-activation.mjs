#!/usr/bin/env node
/**
 * Records what systemd 257 hands a socket-activated service, per Listen kind and option the engine
 * claims: `oracle.sh activate DIR UNIT` (systemd 257 as PID 1 in namespaces, each service replaced
 * by the oracle's dump.py, a client connecting to each listener) into
 * packages/activation/test/fixtures/v257/activation.json, which
 * packages/activation/test/conformance-257.test.ts compares the engine with.
 *
 *   ORACLE_BASE=/scratch node scripts/record-257-activation.mjs [--only NAME]
 *
 * Needs root, debootstrap and the oracle (../shared/oracle/oracle.sh). Ports are fixed (1965x):
 * nothing else may listen there while recording.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const here = dirname(new URL(import.meta.url).pathname);
const out = resolve(here, '../../activation/test/fixtures/v257/activation.json');
const oracle = process.env['ORACLE_SH'] ?? resolve(here, '../../../../shared/oracle/oracle.sh');
if (!process.env['ORACLE_BASE']) throw new Error('set ORACLE_BASE (see ../shared/oracle/README.md)');
const { values: args } = parseArgs({ options: { only: { type: 'string' } } });

const SERVICE = '[Service]\nExecStart=/bin/true\n';
/** name, unit files, the unit to start, oracle knobs. */
export const SCENARIOS = [
  {
    name: 'stream-mptcp',
    unit: 'a.socket',
    files: { 'a.socket': '[Socket]\nListenStream=127.0.0.1:19651\nSocketProtocol=mptcp\n', 'a.service': SERVICE },
  },
  {
    name: 'stream-tcp-options',
    unit: 'o.socket',
    files: {
      'o.socket':
        '[Socket]\nListenStream=127.0.0.1:19652\nNoDelay=yes\nKeepAlive=yes\nReusePort=yes\nDeferAcceptSec=5\nTCPCongestion=reno\nFileDescriptorName=web\n',
      'o.service': SERVICE,
    },
  },
  {
    name: 'ipv6-only',
    unit: 'six.socket',
    env: { ORACLE_CONNECT_HOST: '::1' },
    files: {
      'six.socket': '[Socket]\nListenStream=[::]:19653\nBindIPv6Only=ipv6-only\nSocketProtocol=mptcp\n',
      'six.service': SERVICE,
    },
  },
  {
    name: 'kinds-order',
    unit: 'k.socket',
    env: { ORACLE_UNIX: '1' },
    files: {
      'k.socket':
        '[Socket]\nListenStream=127.0.0.1:19654\nListenDatagram=127.0.0.1:19655\nListenStream=/run/b257-k.sock\nSocketMode=0640\nDirectoryMode=0750\nListenSequentialPacket=@b257-k-seq\nListenFIFO=/run/b257-k.fifo\nListenStream=@b257-k-abs\n',
      'k.service': SERVICE,
    },
  },
  {
    name: 'accept-mptcp',
    unit: 'acc.socket',
    env: { ORACLE_CONNECTIONS: '2' },
    files: {
      'acc.socket': '[Socket]\nListenStream=127.0.0.1:19656\nSocketProtocol=mptcp\nAccept=yes\n',
      'acc@.service': SERVICE,
    },
  },
  {
    name: 'accept-unix',
    unit: 'u.socket',
    env: { ORACLE_UNIX: '1' },
    files: { 'u.socket': '[Socket]\nListenStream=/run/b257-u.sock\nAccept=yes\n', 'u@.service': SERVICE },
  },
  {
    name: 'service-named',
    unit: 's.socket',
    files: {
      's.socket': '[Socket]\nListenStream=127.0.0.1:19657\nService=other.service\nFileDescriptorName=named\n',
      'other.service': SERVICE,
    },
  },
  {
    name: 'mptcp-on-unix',
    unit: 'm.socket',
    files: { 'm.socket': '[Socket]\nListenStream=/run/b257-m.sock\nSocketProtocol=mptcp\n', 'm.service': SERVICE },
  },
  {
    name: 'mptcp-on-datagram',
    unit: 'dg.socket',
    files: { 'dg.socket': '[Socket]\nListenDatagram=127.0.0.1:19658\nSocketProtocol=mptcp\n', 'dg.service': SERVICE },
  },
  {
    name: 'mptcp-disabled',
    unit: 'off.socket',
    env: { ORACLE_NETNS: '1', ORACLE_SYSCTL: 'net.mptcp.enabled=0' },
    files: { 'off.socket': '[Socket]\nListenStream=127.0.0.1:19659\nSocketProtocol=mptcp\n', 'off.service': SERVICE },
  },
  // Two sockets for one service, the service started directly. systemd 257's fd order is not stable
  // here: a.socket:b.socket in two boots, b.socket:a.socket in the recorded one.
  {
    name: 'two-sockets',
    unit: 'x.service',
    files: {
      'a.socket': '[Socket]\nListenStream=127.0.0.1:19661\nService=x.service\n',
      'b.socket': '[Socket]\nListenStream=127.0.0.1:19662\nService=x.service\n',
      'x.service': '[Unit]\nRequires=a.socket b.socket\nAfter=a.socket b.socket\n[Service]\nExecStart=/bin/true\n',
    },
  },
  {
    name: 'dropin-bad-header',
    unit: 'd.socket',
    files: {
      'd.socket': '[Socket]\nListenStream=127.0.0.1:19660\n',
      'd.socket.d/bad.conf': '[Socket\nBacklog=5\n',
      'd.service': SERVICE,
    },
  },
];

const runs = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : { scenarios: {} };
for (const s of SCENARIOS) {
  if (args.only && s.name !== args.only) continue;
  const dir = mkdtempSync(join(tmpdir(), 'b257-act-'));
  for (const [rel, text] of Object.entries(s.files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  const r = spawnSync(oracle, ['activate', dir, s.unit], {
    encoding: 'utf8',
    env: { ...process.env, ...(s.env ?? {}) },
    timeout: 120_000,
  });
  rmSync(dir, { recursive: true, force: true });
  const lines = `${r.stdout}`.split('\n').filter((l) => l !== '' && !/^== (systemd 257|torn down)/.test(l));
  runs.scenarios[s.name] = { unit: s.unit, env: s.env ?? {}, files: s.files, rc: r.status, output: lines };
  process.stderr.write(`${s.name}: rc ${r.status}, ${lines.length} lines\n`);
}
runs.recordedWith = 'systemd 257 (257.13-1~deb13u1), oracle.sh activate (system mode)';
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(runs, null, 1) + '\n');
