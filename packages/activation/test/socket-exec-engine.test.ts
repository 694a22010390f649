/**
 * A socket unit's control commands through the engine's operations (socket.c's state machine; the
 * commands' own behaviour is compared with systemd 257 in socket-exec-257.test.ts): the states and
 * status while each command runs, `stop`/`start` of the unit, daemon-reload adding and removing a
 * socket, a stop during ExecStartPre=, and TimeoutSec= on ExecStopPre=. Commands wait on FIFOs the
 * test writes once it has seen the state it expects: no fixed sleeps. (A reload never stops a socket
 * that serves, engine-reload.ts: one whose file is gone is stopped with `stop`, then dropped.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine, type SocketState, type UnitInfo } from '../src/index.js';
import { need, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { tmp, unitDir } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** Resolves when `socket` enters `state`, with the unit's status at that moment. */
function entered(e: ActivationEngine, socket: string, state: SocketState): Promise<UnitInfo | undefined> {
  return new Promise((resolve) => {
    const on = (ev: { socket: string; state: SocketState }): void => {
      if (ev.socket !== socket || ev.state !== state) return;
      e.off('socket-state', on);
      // The event comes before the step's command is spawned: its PID is known once it runs.
      setImmediate(() => resolve(e.unitInfo(socket)));
    };
    e.on('socket-state', on);
  });
}

function fifos(dir: string, ...names: string[]): string[] {
  return names.map((n) => {
    const p = join(dir, n);
    execFileSync('mkfifo', [p]);
    return p;
  });
}

const lines = (file: string): string[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];

function connects(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    c.on('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
  });
}

describe('socket control commands in the engine (socket.c)', () => {
  it('shows start-pre, start-post, stop-pre, stop-post in status, with the control PID; the socket exists from start-post to stop-pre', async () => {
    const dir = tmp('sockexec-');
    const [g1, g2, g3, g4] = fifos(dir, 'g1', 'g2', 'g3', 'g4');
    const sock = join(dir, 's.sock');
    const units = unitDir({
      's.socket': [
        '[Socket]',
        `ListenStream=${sock}`,
        `ExecStartPre=/bin/sh -c 'read x < ${g1}'`,
        `ExecStartPost=/bin/sh -c 'read x < ${g2}'`,
        `ExecStopPre=/bin/sh -c 'read x < ${g3}'`,
        `ExecStopPost=/bin/sh -c 'read x < ${g4}'`,
        '',
      ].join('\n'),
      's.service': '[Service]\nExecStart=/bin/true\n',
    });
    const e = new ActivationEngine({ logger: testLogger() });
    engine = e;
    const pre = entered(e, 's.socket', 'start-pre');
    const post = entered(e, 's.socket', 'start-post');
    const started = e.start(await loadUnits(units));

    const a = await pre;
    expect([a?.activeState, a?.subState]).toEqual(['activating', 'start-pre']);
    expect(a?.socket?.controlPid).toBeGreaterThan(0);
    expect(existsSync(sock)).toBe(false);
    await writeFile(g1 as string, 'go\n');

    const b = await post;
    expect([b?.activeState, b?.subState]).toEqual(['activating', 'start-post']);
    expect(b?.socket?.controlPid).toBeGreaterThan(0);
    expect(b?.socket?.listen.map((l) => l.address)).toEqual([sock]);
    await writeFile(g2 as string, 'go\n');
    expect((await started).listening).toEqual(['s.socket']);
    expect([e.unitInfo('s.socket')?.activeState, e.unitInfo('s.socket')?.subState]).toEqual(['active', 'listening']);
    expect(e.unitInfo('s.socket')?.socket?.controlPid).toBeUndefined();

    const stopPre = entered(e, 's.socket', 'stop-pre');
    const stopPost = entered(e, 's.socket', 'stop-post');
    const stopped = e.stopUnit('s.socket');
    const c = await stopPre;
    expect([c?.activeState, c?.subState]).toEqual(['deactivating', 'stop-pre']);
    expect(await connects(sock)).toBe(true);
    await writeFile(g3 as string, 'go\n');
    const d = await stopPost;
    expect([d?.activeState, d?.subState]).toEqual(['deactivating', 'stop-post']);
    expect(d?.socket?.listen).toEqual([]);
    await writeFile(g4 as string, 'go\n');
    await stopped;
    expect([e.unitInfo('s.socket')?.activeState, e.unitInfo('s.socket')?.result]).toEqual(['inactive', 'success']);
  });

  it('stop and start of the unit, daemon-reload adding and removing a socket: each runs its commands', async () => {
    const dir = tmp('sockexec-');
    const out = join(dir, 'out.txt');
    const socketText = (name: string): string =>
      [
        '[Socket]',
        `ListenStream=${join(dir, `${name}.sock`)}`,
        `ExecStartPre=/bin/sh -c 'echo ${name} pre >> ${out}'`,
        `ExecStartPost=/bin/sh -c 'echo ${name} post >> ${out}'`,
        `ExecStopPre=/bin/sh -c 'echo ${name} stop-pre >> ${out}'`,
        `ExecStopPost=/bin/sh -c 'echo ${name} stop-post >> ${out}'`,
        '',
      ].join('\n');
    const units = unitDir({ 'a.socket': socketText('a'), 'a.service': '[Service]\nExecStart=/bin/true\n' });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(units))).listening).toEqual(['a.socket']);
    await engine.stopUnit('a.socket');
    await engine.startUnit('a.socket');
    expect(engine.unitInfo('a.socket')?.subState).toBe('listening');
    expect(lines(out)).toEqual(['a pre', 'a post', 'a stop-pre', 'a stop-post', 'a pre', 'a post']);

    rmSync(out);
    writeFileSync(join(units, 'b.socket'), socketText('b'));
    writeFileSync(join(units, 'b.service'), '[Service]\nExecStart=/bin/true\n');
    const added = await engine.reload(await loadUnits(units));
    expect(added.listening).toContain('b.socket');
    expect(lines(out)).toEqual(['b pre', 'b post']);

    rmSync(out);
    rmSync(join(units, 'b.socket'));
    rmSync(join(units, 'b.service'));
    // A serving socket whose file is gone keeps serving (engine-reload.ts keepServing()): nothing runs.
    const kept = await engine.reload(await loadUnits(units));
    expect(kept.kept).toContain('b.socket');
    expect(lines(out)).toEqual([]);
    await engine.stopUnit('b.socket');
    expect(lines(out)).toEqual(['b stop-pre', 'b stop-post']);
    expect(existsSync(join(dir, 'b.sock'))).toBe(true);
    expect(await connects(join(dir, 'b.sock'))).toBe(false);
    const removed = await engine.reload(await loadUnits(units));
    expect(removed.removed).toEqual(['b.socket']);
    expect(lines(out)).toEqual(['b stop-pre', 'b stop-post']);
  });

  it('a stop during ExecStartPre= kills it and runs ExecStopPost=: failed with result signal', async () => {
    const dir = tmp('sockexec-');
    const out = join(dir, 'out.txt');
    const units = unitDir({
      'k.socket': [
        '[Socket]',
        `ListenStream=${join(dir, 'k.sock')}`,
        'ExecStartPre=/bin/sleep 1000',
        `ExecStartPre=/bin/sh -c 'echo pre2 >> ${out}'`,
        `ExecStopPre=/bin/sh -c 'echo stop-pre >> ${out}'`,
        `ExecStopPost=/bin/sh -c 'echo stop-post >> ${out}'`,
        '',
      ].join('\n'),
      'k.service': '[Service]\nExecStart=/bin/true\n',
    });
    const log = testLogger();
    const e = new ActivationEngine({ logger: log });
    engine = e;
    const pre = entered(e, 'k.socket', 'start-pre');
    const started = e.start(await loadUnits(units));
    await pre;
    await e.stopUnit('k.socket');
    expect((await started).failed.map((f) => f.unit)).toEqual(['k.socket']);
    expect([e.unitInfo('k.socket')?.activeState, e.unitInfo('k.socket')?.result]).toEqual(['failed', 'signal']);
    expect(lines(out)).toEqual(['stop-post']);
    // STOP_PRE_SIGTERM is KILL_KILL in 257 (state_to_kill_operation()): FinalKillSignal=, logged.
    expect(log.warnings.map((w) => w.replace(/process \d+/, 'process N'))).toEqual([
      'k.socket: Killing process N (sleep) with signal SIGKILL.',
      'k.socket: Control process exited, code=killed, status=9/KILL',
      "k.socket: Failed with result 'signal'.",
    ]);
    expect(existsSync(join(dir, 'k.sock'))).toBe(false);
  });

  it('TimeoutSec= ends an ExecStopPre= that runs too long (FinalKillSignal=), then ExecStopPost= runs: result timeout', async () => {
    const dir = tmp('sockexec-');
    const out = join(dir, 'out.txt');
    const units = unitDir({
      't.socket': [
        '[Socket]',
        `ListenStream=${join(dir, 't.sock')}`,
        'TimeoutSec=300ms',
        'ExecStopPre=/bin/sleep 1000',
        `ExecStopPost=/bin/sh -c 'echo stop-post >> ${out}'`,
        '',
      ].join('\n'),
      't.service': '[Service]\nExecStart=/bin/true\n',
    });
    const log = testLogger();
    engine = new ActivationEngine({ logger: log });
    expect((await engine.start(await loadUnits(units))).listening).toEqual(['t.socket']);
    await engine.stopUnit('t.socket');
    expect([engine.unitInfo('t.socket')?.activeState, engine.unitInfo('t.socket')?.result]).toEqual([
      'failed',
      'timeout',
    ]);
    expect(lines(out)).toEqual(['stop-post']);
    // As the oracle's stoptimeout.socket (socket-exec-257.test.ts), with a shorter TimeoutSec=.
    expect(log.warnings.map((w) => w.replace(/process \d+/, 'process N'))).toEqual([
      't.socket: Stopping timed out. Terminating.',
      't.socket: Killing process N (sleep) with signal SIGKILL.',
      't.socket: Control process exited, code=killed, status=9/KILL',
      "t.socket: Failed with result 'timeout'.",
    ]);
  });

  it('SocketUser= owns the node, not the commands; %n in the [Socket] exec settings is the socket', async (ctx) => {
    need(ctx, root);
    const dir = tmp('sockexec-');
    const out = join(dir, 'out.txt');
    const sock = join(dir, 'o.sock');
    const units = unitDir({
      'o.socket': [
        '[Socket]',
        `ListenStream=${sock}`,
        'SocketUser=nobody',
        'Environment=WHO=%n',
        `ExecStartPost=/bin/sh -c 'echo "$$(id -u) $$WHO $$(stat -c %%U ${sock})" >> ${out}'`,
        '',
      ].join('\n'),
      'o.service': '[Service]\nExecStart=/bin/true\n',
    });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(units))).listening).toEqual(['o.socket']);
    expect(lines(out)).toEqual(['0 o.socket nobody']);
  });

  it('a daemon-reload changes the commands and their settings for the next steps of a listening socket', async () => {
    const dir = tmp('sockexec-');
    const out = join(dir, 'out.txt');
    const text = (v: string): string =>
      [
        '[Socket]',
        `ListenStream=${join(dir, 'r.sock')}`,
        `Environment=V=${v}`,
        `ExecStartPre=/bin/sh -c 'echo pre $$V >> ${out}'`,
        `ExecStopPost=/bin/sh -c 'echo stop-post ${v} $$V >> ${out}'`,
        '',
      ].join('\n');
    const units = unitDir({ 'r.socket': text('1'), 'r.service': '[Service]\nExecStart=/bin/true\n' });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(units));
    writeFileSync(join(units, 'r.socket'), text('2'));
    expect((await engine.reload(await loadUnits(units))).kept).toEqual(['r.socket']);
    await engine.stopUnit('r.socket');
    expect(lines(out)).toEqual(['pre 1', 'stop-post 2 2']);
  });
});
