/**
 * Service types and policies beyond Type=notify: NotifyAccess= credential checks, forking with
 * PIDFile=, oneshot with RemainAfterExit=, stop timeouts, the restart delay (RestartSteps=), and the
 * [Service] directives as @mptcp/unit parses them.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ActivationEngine,
  NotifySocket,
  effectiveNotifyAccess,
  loadNative,
  parseNotifyMessage,
  restartDelayUsec,
} from '../src/index.js';
import { need } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { stateOf } from './helpers/engine.js';
import { testLogger } from './helpers/log.js';
import { HELPERS, unitDir, waitFor } from './helpers/run.js';

const PY = '/usr/bin/python3';
const pythonSystemd = (() => {
  try {
    return {
      ok: execFileSync(PY, ['-c', 'import systemd.daemon; print("ok")'], { encoding: 'utf8' }).trim() === 'ok',
      reason: 'python3-systemd is not installed (apt-get install python3-systemd)',
    };
  } catch {
    return { ok: false, reason: 'python3-systemd is not installed (apt-get install python3-systemd)' };
  }
})();
const notifySupport = {
  ok: await loadNative().then(
    (n) => NotifySocket.supported(n),
    () => false,
  ),
  reason: '@mptcp/native cannot receive credentials (rebuild the addon)',
};

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('[Service] directives of the service manager', () => {
  it('parse into the model (WatchdogSec=, NotifyAccess=, PIDFile=, FileDescriptorStore*=, RestartSteps=…)', async () => {
    const dir = unitDir({
      'x.service': [
        '[Service]',
        'Type=notify-reload',
        'ExecStart=/bin/true',
        'WatchdogSec=3s',
        'WatchdogSignal=SIGUSR2',
        'NotifyAccess=exec',
        'PIDFile=x.pid',
        'GuessMainPID=no',
        'FileDescriptorStoreMax=7',
        'FileDescriptorStorePreserve=yes',
        'RestartSec=1',
        'RestartSteps=3',
        'RestartMaxDelaySec=8',
        'ReloadSignal=SIGUSR1',
        '',
      ].join('\n'),
      'y.service': '[Service]\nType=notify\nExecStart=/bin/true\n',
      'z.service': '[Service]\nExecStart=/bin/true\n',
    });
    const units = await loadUnits(dir);
    const x = units.services?.find((s) => s.name === 'x.service');
    expect(x).toMatchObject({
      type: 'notify-reload',
      watchdogUsec: 3_000_000,
      watchdogSignal: 'SIGUSR2',
      notifyAccess: 'exec',
      pidFile: '/run/x.pid',
      guessMainPID: false,
      fileDescriptorStoreMax: 7,
      fileDescriptorStorePreserve: 'yes',
      restartSteps: 3,
      restartMaxDelayUsec: 8_000_000,
      reloadSignal: 'SIGUSR1',
    });
    const byName = (n: string) => units.services?.find((s) => s.name === n);
    // systemd's defaults: notify types (and WatchdogSec=) imply NotifyAccess=main.
    expect(effectiveNotifyAccess(byName('y.service') as NonNullable<ReturnType<typeof byName>>)).toBe('main');
    expect(effectiveNotifyAccess(byName('z.service') as NonNullable<ReturnType<typeof byName>>)).toBe('none');
  });

  it('the restart delay grows geometrically from RestartSec= to RestartMaxDelaySec= over RestartSteps=', () => {
    const unit = { restartUsec: 1_000_000, restartSteps: 3, restartMaxDelayUsec: 8_000_000 };
    expect([1, 2, 3, 4, 5].map((n) => restartDelayUsec(unit, n))).toEqual([
      1_000_000, 2_000_000, 4_000_000, 8_000_000, 8_000_000,
    ]);
    expect(restartDelayUsec({ restartUsec: 100_000 }, 9)).toBe(100_000);
  });

  it('notify datagrams: KEY=VALUE lines, later assignments win, junk lines reported', () => {
    const m = parseNotifyMessage('READY=1\nSTATUS=a=b\nnonsense\nSTATUS=c\n');
    expect(m.fields.get('READY')).toBe('1');
    expect(m.fields.get('STATUS')).toBe('c');
    expect(m.invalid).toEqual(['nonsense']);
  });
});

describe('NotifyAccess=', () => {
  it('main: READY=1 from another process of the service is refused (its PID is checked), so the start times out', async (ctx) => {
    need(ctx, pythonSystemd, notifySupport);
    const log = testLogger();
    const refused = new Promise<string>((resolve) => {
      const warn = log.warn;
      log.warn = (m, f) => {
        warn(m, f);
        if (m.startsWith('Got notification message from PID')) resolve(m);
      };
    });
    const dir = unitDir({
      // The shell is the main process; python, its child, sends READY=1 with its own PID.
      'm.service': `[Service]\nType=notify\nTimeoutStartSec=60\nExecStart=/bin/sh -c '${PY} ${join(HELPERS, 'notify-once.py')} READY=1 --stay & exec sleep infinity'\n`,
    });
    engine = new ActivationEngine({ logger: log });
    await engine.start(await loadUnits(dir));
    // The start job waits for READY=1 (257): it is not awaited here, the refusal is.
    const e = engine;
    e.startUnit('m.service').catch(() => undefined);
    await waitFor(() => e.unitInfo('m.service')?.service?.pid !== undefined, 10_000, 'the main process');
    const main = e.unitInfo('m.service')?.service?.pid;
    const message = await refused;
    expect(message).toMatch(
      new RegExp(`^Got notification message from PID (\\d+), but reception only permitted for main PID ${main}$`),
    );
    expect(message).not.toContain(`PID ${main},`);
    // Refused: still waiting for READY=1.
    expect(engine.unitInfo('m.service')?.activeState).toBe('activating');
  });

  it('all: the same READY=1 from a child process is accepted', async (ctx) => {
    need(ctx, pythonSystemd, notifySupport);
    const dir = unitDir({
      'a.service': `[Service]\nType=notify\nNotifyAccess=all\nExecStart=/bin/sh -c '${PY} ${join(HELPERS, 'notify-once.py')} READY=1 --stay & exec sleep infinity'\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(dir));
    const active = stateOf(engine, 'a.service', 'active');
    await engine.startUnit('a.service');
    await active;
    expect(engine.unitInfo('a.service')?.subState).toBe('running');
  });
});

describe('Type=forking and Type=oneshot', () => {
  it('forking: activating until the starter exits, then the PIDFile= process is the main PID; stop kills it', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'svc-fork-'));
    const pidFile = join(tmp, 'daemon.pid');
    const dir = unitDir({
      'f.service': `[Service]\nType=forking\nPIDFile=${pidFile}\nExecStart=/bin/sh -c 'sleep infinity & echo $! > ${pidFile}'\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(dir));
    const active = stateOf(engine, 'f.service', 'active');
    await engine.startUnit('f.service');
    await active;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    expect(engine.unitInfo('f.service')?.service?.pid).toBe(pid);
    const inactive = stateOf(engine, 'f.service', 'inactive');
    await engine.stopUnit('f.service');
    await inactive;
    // Gone, or a zombie waiting for init to reap it (it is not our child).
    let stat = '';
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      stat = '';
    }
    expect(stat === '' || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')).toBe(true);
  });

  it('oneshot: activating while it runs; RemainAfterExit=yes stays active (exited), a failure is failed (exit-code)', async () => {
    const dir = unitDir({
      'o.service': '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n',
      'bad.service': '[Service]\nType=oneshot\nExecStart=/bin/false\n',
    });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(dir));
    const states: string[] = [];
    engine.on('service-state', (e) => e.service === 'o.service' && states.push(e.state));
    const active = stateOf(engine, 'o.service', 'active');
    await engine.startUnit('o.service');
    await active;
    expect(states).toEqual(['activating', 'active']);
    expect(engine.unitInfo('o.service')).toMatchObject({ activeState: 'active', subState: 'exited' });
    // The start job ends with the oneshot: it fails with it (systemctl start exits 1).
    await expect(engine.startUnit('bad.service')).rejects.toThrow(
      'Job for bad.service failed because the control process exited with error code.',
    );
    expect(engine.unitInfo('bad.service')?.result).toBe('exit-code');
  });
});

describe('Accept=yes instances as units', () => {
  it('status and stop reach a running instance by its name', async () => {
    const { freePort } = await import('./helpers/run.js');
    const net = await import('node:net');
    const port = await freePort();
    const dir = unitDir({
      'i.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
      'i@.service': '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n',
    });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(dir));
    const started = new Promise<string>((resolve) => engine?.on('started', (e) => resolve(e.service)));
    const client = net.connect(port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    client.on('error', () => undefined);
    const name = await started;
    expect(name).toMatch(/^i@0-127\.0\.0\.1:\d+-127\.0\.0\.1:\d+\.service$/);
    expect(engine.hasUnit(name)).toBe(true);
    expect(engine.unitInfo(name)).toMatchObject({ activeState: 'active', triggeredBy: ['i.socket'] });
    await engine.stopUnit(name);
    await closed;
    expect(engine.hasUnit(name)).toBe(false);
  });
});

describe('a failed execve', () => {
  it('Type=simple: the main process "exits" 203/EXEC, result exit-code, and Restart=on-failure restarts it (until the start limit)', async () => {
    const log = testLogger();
    const dir = unitDir({
      's.service':
        '[Unit]\nStartLimitBurst=2\n[Service]\nRestart=on-failure\nRestartSec=0\nExecStart=/nonexistent/binary\n',
      'e.service':
        '[Unit]\nStartLimitBurst=1\n[Service]\nType=exec\nRestart=on-failure\nExecStart=/nonexistent/binary\n',
    });
    engine = new ActivationEngine({ logger: log });
    await engine.start(await loadUnits(dir));
    const exits: Array<{ unit: string; result: string; restart: boolean }> = [];
    engine.on('service-exit', (e) => exits.push({ unit: e.unit, result: e.result, restart: e.restart }));
    const limited = new Promise<void>((resolve) => {
      const on = (): void => {
        // The refused start keeps the result exit-code (257: fixtures/v257/start-limit).
        if (log.warnings.includes('s.service: Start request repeated too quickly.')) resolve();
      };
      engine?.on('service-state', on);
    });
    await engine.startUnit('s.service').catch(() => undefined);
    await limited;
    expect(engine.unitInfo('s.service')).toMatchObject({ activeState: 'failed', result: 'exit-code' });
    expect(exits.filter((e) => e.unit === 's.service')).toEqual([
      { unit: 's.service', result: 'exit-code', restart: true },
      { unit: 's.service', result: 'exit-code', restart: true },
    ]);
    // Type=exec: the start itself fails, and Restart= applies to it as to any run (257:
    // fixtures/v257/restart-results execmissing); StartLimitBurst=1 refuses the restart.
    await expect(engine.startUnit('e.service')).rejects.toThrow(/failed/);
    expect(exits.filter((e) => e.unit === 'e.service')).toEqual([
      { unit: 'e.service', result: 'exit-code', restart: true },
    ]);
    await waitFor(() => engine?.unitInfo('e.service')?.activeState === 'failed', 10_000, 'e.service refused');
    expect(engine.unitInfo('e.service')).toMatchObject({ activeState: 'failed', result: 'exit-code' });
  });
});
