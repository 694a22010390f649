/**
 * The output capture (StandardOutput=journal in mptcpd-lite) keeps the work of a start small: the
 * socket pair a start hands its service was made before the start (the next one is made after the
 * event-loop turn that handed the spawn over), and the reader is built once the launcher has run.
 * What the service gets is unchanged: its own blocking end of a fresh AF_UNIX stream pair, every
 * line it writes (also before the reader exists) attributed to its PID. No fd is left behind by
 * close(), by a launcher that throws, or by a pair nobody used.
 */
import { readdirSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LogCapture, type ServiceOutputLine } from '../src/output-capture.js';
import { loadNative, type NativeApi } from '../src/native-binding.js';
import { ServiceExec } from '../src/service-exec.js';
import type { Logger } from '../src/logger.js';
import type { ServiceUnit } from '@mptcp/unit';
import { waitFor } from './helpers/run.js';

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const openFds = (): number => readdirSync('/proc/self/fd').length;

/** The real addon, with socketPair() calls counted. */
async function countingNative(): Promise<{
  native: NativeApi & { socketPair: () => [number, number] };
  pairs: () => number;
}> {
  const real = await loadNative();
  const make = real.socketPair;
  if (!make) throw new Error('@mptcp/native has no socketPair(): rebuild packages/native');
  let n = 0;
  const native = {
    ...real,
    socketPair: (): [number, number] => {
      n += 1;
      return make();
    },
  };
  return { native, pairs: () => n };
}

describe('LogCapture', () => {
  it('hands a start a pair made before it, and makes the next one after the turn', async () => {
    const { native, pairs } = await countingNative();
    const capture = new LogCapture(native, quiet, () => {});
    expect(pairs()).toBe(1);
    const a = capture.open('a.service', () => 1);
    expect(a).toBeDefined();
    expect(pairs()).toBe(1); // no socket pair on the start's path
    await turn();
    expect(pairs()).toBe(2); // the spare for the next start
    const b = capture.open('b.service', () => 2);
    expect(pairs()).toBe(2);
    expect(b?.fd).not.toBe(a?.fd);
    a?.release();
    b?.release();
    capture.close();
  });

  it("the service's end is blocking; lines written before release() reach the sink with the PID", async () => {
    const { native } = await countingNative();
    const lines: ServiceOutputLine[] = [];
    const capture = new LogCapture(native, quiet, (l) => lines.push(l));
    const known: { pid?: number } = {};
    const end = capture.open('early.service', () => known.pid);
    if (!end) throw new Error('no capture');
    // O_NONBLOCK clear on the child's end (the service writes as to a pipe)
    const { execFileSync } = await import('node:child_process');
    const flags = execFileSync('sh', ['-c', `grep flags /proc/${process.pid}/fdinfo/${end.fd}`], { encoding: 'utf8' });
    expect(Number.parseInt(flags.split(/\s+/)[1] ?? '', 8) & 0o4000).toBe(0);
    writeSync(end.fd, 'before the reader\nsecond line\n');
    known.pid = 4242;
    end.release();
    await waitFor(() => lines.length >= 2, 10_000, 'both lines');
    expect(lines).toEqual([
      { unit: 'early.service', pid: 4242, text: 'before the reader' },
      { unit: 'early.service', pid: 4242, text: 'second line' },
    ]);
    capture.close();
  });

  it('close() leaves no fd: the spare, used pairs and their readers', async () => {
    const { native } = await countingNative();
    const before = openFds();
    const capture = new LogCapture(native, quiet, () => {});
    const a = capture.open('a.service', () => 1);
    a?.release();
    await turn();
    expect(openFds()).toBeGreaterThan(before);
    capture.close();
    await waitFor(() => openFds() === before, 10_000, 'every capture fd closed');
    expect(openFds()).toBe(before);
  });

  it('a launch that throws before any launcher ran releases the capture (no fd left)', async () => {
    const { native } = await countingNative();
    const capture = new LogCapture(native, quiet, () => {});
    const unit = {
      name: 'throws.service',
      standardInput: 'null',
      standardOutput: 'journal',
      standardError: 'inherit',
    } as unknown as ServiceUnit;
    const options = { logger: quiet, output: 'log', capture } as unknown as ConstructorParameters<
      typeof ServiceExec
    >[1];
    const exec = new ServiceExec(() => unit, options);
    const before = openFds(); // the spare pair is open
    // A command whose argv cannot be read: prepareExec() throws before either launcher runs.
    const cmd = {
      path: '/bin/true',
      raw: '/bin/true',
      get argv(): string[] {
        throw new TypeError('refused before any launcher ran');
      },
    } as unknown as Parameters<ServiceExec['spawn']>[0];
    expect(() => exec.spawn(cmd, { PATH: '/usr/bin:/bin' }, '/', {}, {})).toThrow(/refused before any launcher ran/);
    await turn(); // the next spare is made
    // The pair the start took is closed (its reader sees EOF and closes our end): back to one pair.
    await waitFor(() => openFds() === before, 10_000, 'the taken pair closed');
    expect(openFds()).toBe(before);
    capture.close();
  });
});
