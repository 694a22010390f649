/**
 * With cgroup tracking, a unit's cgroup is named by 257's cg_escape() (@mptcp/activation cgEscape()):
 * `.hid.service` (a valid unit name) runs in `_.hid.service` as in 257 (the audit's dotname case,
 * oracle: `CGroup: /system.slice/_.hid.socket`, "Started .hid.service."), where every start used to
 * fail with 'resources' ("not a name for a cgroup"); `memory.service` in `_memory.service`,
 * `_u.service` in `__u.service`, and every Accept=yes instance of `.t@.service` in `_.t@N-….service`, also those the accept
 * thread would start (it names a cgroup as its instance: such templates stay on the regular path).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ownCgroupDir } from '@mptcp/activation';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { need, type Ctx } from './helpers/capability.js';
import { runCli, startCli, stopProcess, type Running } from './helpers/cli.js';
import { freePort, tempDir, writeUnits } from './helpers/units.js';

let dir: string;
const daemons: Running[] = [];
beforeEach(() => {
  dir = tempDir('mdl-cg-escape-');
});
afterEach(async () => {
  for (const d of daemons.splice(0)) await stopProcess(d, 'SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

function cgroupUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  const own = ownCgroupDir(readFileSync('/proc/self/mountinfo', 'utf8'), readFileSync('/proc/self/cgroup', 'utf8'));
  if ('reason' in own) return own.reason;
  const [major = 0, minor = 0] = os.release().split('.').map(Number);
  if (major < 5 || (major === 5 && minor < 14)) return `kernel ${os.release()} has no cgroup.kill (5.14+)`;
  return undefined;
}

/** A service that writes its /proc/self/cgroup to `<dir>/<key>.cg` (renamed into place), then sleeps. */
function service(key: string): string {
  const f = path.join(dir, `${key}.cg`);
  return `[Service]\nExecStart=/bin/sh -c 'cat /proc/self/cgroup > ${f}.new; mv ${f}.new ${f}; exec sleep 1000'\n`;
}

/** The cgroup the service `key` saw (waits, one daemon round trip per check). */
async function cgroupOf(key: string, control: string): Promise<string> {
  const f = path.join(dir, `${key}.cg`);
  for (let i = 0; !existsSync(f); i++) {
    if (i > 2000) throw new Error(`${key} did not run`);
    await runCli(['status', '--json', '--control', control]);
  }
  return /^0::(.*)$/m.exec(readFileSync(f, 'utf8'))?.[1] ?? '';
}

/** What an instance of .t@.service wrote back (its /proc/self/cgroup) until it closed the connection. */
function exchange(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let out = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => (out += d));
    c.on('end', () => resolve(out));
    c.on('error', reject);
  });
}

describe('unit cgroups named by cg_escape() (--cgroup auto)', () => {
  it('.hid.service, memory.service, _u.service and every instance of .t@.service (fast path too) run, in 257 cgroup names', async (ctx: Ctx) => {
    need(ctx, cgroupUnavailable());
    const port = await freePort();
    const control = path.join(dir, 'control.sock');
    const units = writeUnits(path.join(dir, 'units'), {
      '.hid.service': service('hid'),
      'memory.service': service('memory'),
      '_u.service': service('u'),
      'plain.service': service('plain'),
      '.t.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
      '.t@.service': '[Service]\nExecStart=/bin/cat /proc/self/cgroup\nStandardInput=socket\nStandardOutput=socket\n',
    });
    const d = startCli(['run', '--units', units, '--control', control]);
    daemons.push(d);
    await d.waitFor(/^\{"event":"ready"/, 20000);
    const tree = /tracked by cgroup \((.*)\)\./.exec(d.stderr())?.[1];
    expect(tree).toBeDefined();
    const ownTree = path.basename(tree as string);

    for (const [unit, key, cg] of [
      ['.hid.service', 'hid', '_.hid.service'],
      ['memory.service', 'memory', '_memory.service'],
      ['_u.service', 'u', '__u.service'],
      ['plain.service', 'plain', 'plain.service'],
    ] as const) {
      const r = await runCli(['start', unit, '--control', control]);
      expect({ unit, code: r.code, stderr: r.stderr }).toEqual({ unit, code: 0, stderr: '' });
      expect(await cgroupOf(key, control)).toMatch(new RegExp(`/${ownTree}/${cg.replace(/\./g, '\\.')}$`));
    }

    // Instances of .t@.service, the later ones where the accept thread would start them (fast path):
    // every one in a cgroup named as 257 names it.
    for (let n = 0; n < 4; n++) {
      expect(await exchange(port)).toMatch(
        new RegExp(`^0::.*/${ownTree}/_\\.t@${n}-127\\.0\\.0\\.1:${port}-127\\.0\\.0\\.1:\\d+\\.service$`, 'm'),
      );
    }
    expect(d.stderr()).not.toMatch(/not a name for a cgroup|Failed with result 'resources'/);
  }, 60_000);
});
