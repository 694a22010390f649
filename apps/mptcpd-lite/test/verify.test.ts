/**
 * `verify` against systemd's own words: every conf-syntax vector observed with `systemd-analyze
 * verify` (systemd 252 on the reference machine) is written to a file of the same name, verified by
 * the real binary, and each message systemd printed must appear as `FILE:LINE: message`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sameParseMessage } from '@mptcp/unit/vectors';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, APP_ROOT } from './helpers/cli.js';

interface Vector {
  input: string;
  source: string;
  expected: {
    systemd_output: string;
    parser_warnings?: Array<{ line: number; message: string }>;
    fatal?: { line: number; message: string };
  };
}

const vectorsPath = path.resolve(APP_ROOT, '..', '..', '..', 'shared', 'vectors', 'conf-syntax.json');
const observed = (JSON.parse(readFileSync(vectorsPath, 'utf8')) as { vectors: Vector[] }).vectors
  .filter((v) => v.source.includes('systemd-analyze verify'))
  .map((v) => ({ ...v, file: /\(file ([^)]+)\)/.exec(v.source)?.[1] ?? 'x.socket' }));

const dir = mkdtempSync(path.join(os.tmpdir(), 'mdl-verify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The messages systemd printed, with their lines, from the vector's description of its output. */
function expectedMessages(v: Vector): Array<{ line: number; message: string }> {
  const out = [...(v.expected.parser_warnings ?? [])];
  if (v.expected.fatal) out.push(v.expected.fatal);
  const single = /^(?:warning|FATAL) line (\d+): (.*?)(?: +(?:then|Description).*| -> .*)?$/.exec(
    v.expected.systemd_output,
  );
  if (single) out.push({ line: Number(single[1]), message: single[2] as string });
  const seen = new Set<string>();
  return out.filter((m) => !seen.has(`${m.line}:${m.message}`) && seen.add(`${m.line}:${m.message}`));
}

describe('mptcpd-lite verify: systemd-analyze verify vectors', () => {
  it('has observed vectors to check', () => {
    expect(observed.length).toBeGreaterThanOrEqual(10);
  });

  it.each(observed)('$file: $expected.systemd_output', async (v) => {
    const raw = v.input.includes('(raw byte 0xFF)')
      ? Buffer.concat([Buffer.from(v.input.split('\\xff')[0] ?? ''), Buffer.from([0xff]), Buffer.from('\n')])
      : Buffer.from(v.input);
    const file = path.join(dir, v.file);
    writeFileSync(file, raw);
    writeFileSync(file.replace(/\.socket$/, '.service'), '[Service]\nExecStart=/bin/cat\n');
    const r = await runCli(['verify', file]);
    for (const m of expectedMessages(v)) {
      if (m.message.startsWith('String is not UTF-8 clean'))
        expect(r.stderr).toContain(`${file}:${m.line}: String is not UTF-8 clean, ignoring assignment:`);
      else {
        // The vectors quote systemd <= 254's parser texts; 257 (what we follow) words the same failure
        // `Failed to parse KEY=VALUE, ignoring: <strerror>` (sameParseMessage() accepts either).
        const prefix = `${file}:${m.line}: `;
        const lines = r.stderr.split('\n').filter((l) => l.startsWith(prefix));
        expect(
          lines.some((l) => sameParseMessage(l.slice(prefix.length), m.message)),
          `${prefix}${m.message} in:\n${r.stderr}`,
        ).toBe(true);
      }
    }
    const loadFails = /FATAL|load error/.test(v.expected.systemd_output);
    if (/no Listen setting/.test(v.expected.systemd_output))
      expect(r.stderr).toContain(
        `${v.file}: Unit has no Listen setting (ListenStream=, ListenDatagram=, ListenFIFO=, ...). Refusing.`,
      );
    expect(r.code).toBe(loadFails ? 1 : 0);
    if (!loadFails && expectedMessages(v).length === 0) expect(r.stderr).toBe('');
  });
});

describe('mptcpd-lite verify: load-time errors (spec §7)', () => {
  const cases: Array<[string, string, string[]]> = [
    [
      'nolisten.socket',
      '[Socket]\nAccept=yes\n',
      [
        'nolisten.socket: Unit has no Listen setting (ListenStream=, ListenDatagram=, ListenFIFO=, ...). Refusing.',
        'Unit nolisten.socket has a bad unit file setting.',
      ],
    ],
    [
      'd2.socket',
      '[Socket]\nListenDatagram=127.0.0.1:18240\nAccept=yes\n',
      ['d2.socket: Unit configured for accepting sockets, but sockets are non-accepting. Refusing.'],
    ],
    [
      'd8.socket',
      '[Socket]\nListenStream=127.0.0.1:18241\nAccept=yes\nMaxConnections=0\n',
      ['d8.socket: MaxConnection= setting too small. Refusing.'],
    ],
    [
      'nosvc.socket',
      '[Socket]\nListenStream=127.0.0.1:18242\n',
      ['nosvc.socket: service nosvc.service not loaded, socket cannot be started.'],
    ],
    [
      'c8b.socket',
      '[Socket\nListenStream=127.0.0.1:18243\n',
      [
        "c8b.socket:1: Invalid section header '[Socket'",
        'Unit c8b.socket failed to load properly, please adjust/correct and reload service manager: Bad message',
      ],
    ],
  ];
  it.each(cases)('%s', async (name, text, messages) => {
    const sub = mkdtempSync(path.join(dir, 'case-'));
    writeFileSync(path.join(sub, name), text);
    const r = await runCli(['verify', path.join(sub, name)]);
    expect(r.code).toBe(1);
    for (const m of messages) expect(r.stderr).toContain(m);
  });

  it('the example units verify cleanly, and --json lists diagnostics', async () => {
    const units = path.join(APP_ROOT, 'examples', 'units');
    const r = await runCli([
      'verify',
      path.join(units, 'echo.socket'),
      path.join(units, 'http.socket'),
      path.join(units, 'http.service'),
      path.join(units, 'echo@.service'),
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const sub = mkdtempSync(path.join(dir, 'json-'));
    writeFileSync(path.join(sub, 'j.socket'), '[Socket]\nListenStream=127.0.0.1:18244\nBogus=1\n');
    writeFileSync(path.join(sub, 'j.service'), '[Service]\nExecStart=/bin/cat\n');
    const j = await runCli(['verify', '--json', path.join(sub, 'j.socket')]);
    expect(j.code).toBe(0);
    const parsed = JSON.parse(j.stdout) as {
      failed: boolean;
      diagnostics: Array<{ line: number; text: string; severity: string }>;
    };
    expect(parsed.failed).toBe(false);
    expect(parsed.diagnostics).toEqual([
      expect.objectContaining({
        line: 3,
        severity: 'warning',
        text: `${path.join(sub, 'j.socket')}:3: Unknown key 'Bogus' in section [Socket], ignoring.`,
      }),
    ]);
  });

  it('--recursive-errors makes warnings fail, as systemd-analyze 257; notices do not', async () => {
    const sub = mkdtempSync(path.join(dir, 'rec-'));
    writeFileSync(path.join(sub, 'w.socket'), '[Socket]\nListenStream=127.0.0.1:18245\nBacklog=x\n');
    writeFileSync(path.join(sub, 'w.service'), '[Service]\nExecStart=/bin/cat\nUser=nobody\n');
    const plain = await runCli(['verify', path.join(sub, 'w.socket')]);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toContain(
      `${path.join(sub, 'w.socket')}:3: Failed to parse Backlog=x, ignoring: Invalid argument`,
    );
    expect((await runCli(['verify', '--recursive-errors', 'no', path.join(sub, 'w.socket')])).code).toBe(1);
    const svc = await runCli(['verify', '--recursive-errors', 'no', path.join(sub, 'w.service')]);
    expect(svc.stderr).toContain(`${path.join(sub, 'w.service')}:3: Special user nobody configured, this is not safe!`);
    expect(svc.code).toBe(0);
    expect((await runCli(['verify', '--recursive-errors', 'maybe', path.join(sub, 'w.socket')])).code).toBe(2);
  });
});
