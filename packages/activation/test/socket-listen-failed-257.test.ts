/**
 * A socket without control commands whose listeners cannot be opened, as systemd 257 logs it
 * (fixtures/v257/activation.json, mptcp-on-unix: m.socket, SocketProtocol=mptcp on an AF_UNIX path):
 * `Failed to create listening socket (…): Protocol not supported` (err), `Failed to listen on sockets:
 * Protocol not supported` (warning), `Failed with result 'resources'.` (warning), then the job's
 * `Failed to listen on m.socket.` (err, no `UNIT: ` prefix; `- DESCRIPTION` when there is one) — the
 * lines socket-steps.ts logs for a socket with control commands.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine } from '../src/index.js';
import { capture, leveled, startEngineIn, stopEngines } from './helpers/recorded-257.js';
import { tmp } from './helpers/run.js';

const recording = JSON.parse(
  readFileSync(fileURLToPath(new URL('./fixtures/v257/activation.json', import.meta.url)), 'utf8'),
) as { scenarios: Record<string, { files: Record<string, string>; output: string[] }> };
const scenario = recording.scenarios['mptcp-on-unix'];

/** 257's manager lines about m.socket, as our level and text (`UNIT: text`, or the bare job line). */
const recorded = (scenario?.output ?? []).flatMap((l) => {
  const m = /^\s*<(\d+)>systemd\[1\]: (.*)$/.exec(l);
  if (!m || !/\bm\.socket\b/.test(m[2] as string)) return [];
  return [`${Number(m[1]) % 8 <= 3 ? 'error' : 'warn'}: ${m[2]}`];
});

afterEach(stopEngines);

async function startWith(socketText: string): Promise<{ lines: string[]; failed: string[]; e: ActivationEngine }> {
  const dir = join(tmp('listen-failed-'), 'units');
  mkdirSync(dir);
  writeFileSync(join(dir, 'm.socket'), socketText);
  writeFileSync(join(dir, 'm.service'), scenario?.files['m.service'] ?? '');
  const log = capture();
  const { e, report } = await startEngineIn(dir, log);
  return { lines: leveled(log), failed: report.failed.map((f) => f.unit), e };
}

describe('a socket whose listeners cannot be opened (systemd 257, activation.json mptcp-on-unix)', () => {
  it('the recording: the create error, `Failed to listen on sockets: …`, the result, the job line', () => {
    expect(recorded).toEqual([
      'error: m.socket: Failed to create listening socket (/run/b257-m.sock): Protocol not supported',
      'warn: m.socket: Failed to listen on sockets: Protocol not supported',
      "warn: m.socket: Failed with result 'resources'.",
      'error: Failed to listen on m.socket.',
    ]);
  });

  it('m.socket: the same lines in the same order', async () => {
    const path = join(tmp('listen-failed-sock-'), 'm.sock');
    const text = (scenario?.files['m.socket'] ?? '').replace('/run/b257-m.sock', path);
    const { lines, failed, e } = await startWith(text);
    expect(failed).toEqual(['m.socket']);
    // Our create line says more (how to fall back); it starts with 257's words.
    expect(lines[0]).toMatch(/^error: m\.socket: Failed to create listening socket \(.*\): Protocol not supported/);
    expect(lines.slice(1)).toEqual(recorded.slice(1));
    expect(e.unitInfo('m.socket')).toMatchObject({ activeState: 'failed', result: 'resources' });
  });

  it('with Description=: the job line names it (`Failed to listen on m.socket - DESCRIPTION.`)', async () => {
    const path = join(tmp('listen-failed-sock-'), 'm.sock');
    const text = `[Unit]\nDescription=Plain socket\n${(scenario?.files['m.socket'] ?? '').replace('/run/b257-m.sock', path)}`;
    const { lines } = await startWith(text);
    expect(lines.at(-1)).toBe('error: Failed to listen on m.socket - Plain socket.');
  });

  it('with ExecStartPre= (socket-steps.ts): the same lines after the command ran', async () => {
    const path = join(tmp('listen-failed-sock-'), 'm.sock');
    const text = `${(scenario?.files['m.socket'] ?? '').replace('/run/b257-m.sock', path)}ExecStartPre=/bin/true\n`;
    const { lines, failed } = await startWith(text);
    expect(failed).toEqual(['m.socket']);
    expect(lines[0]).toMatch(/^error: m\.socket: Failed to create listening socket \(.*\): Protocol not supported/);
    expect(lines.slice(1)).toEqual(recorded.slice(1));
  });
});
