/**
 * What the daemon reads at load and what at each start, as systemd does: the Accept=yes template is
 * kept until the next reload (an instance per connection reads nothing from disk; an edit shows
 * after a reload, not before), while User= is resolved at every start (the user database is kept
 * only while /etc/passwd and /etc/group are unchanged, so a connection costs a stat, not a read).
 * The daemon's engine runs in this process; the services write what they got on the connection.
 */
import net from 'node:net';
import path from 'node:path';
import { rmSync, writeFileSync } from 'node:fs';
import { useUserDatabase } from '@mptcp/activation';
import { reasonMissing } from '@mptcp/testkit/capability';
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine } from '../src/daemon/activation-engine.js';
import type { Engine } from '../src/daemon/engine.js';
import { createLogger } from '../src/log.js';
import { need } from './helpers/capability.js';
import { freePort, tempDir, writeUnits } from './helpers/units.js';

let engine: Engine | undefined;
let dir: string | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  useUserDatabase({ passwd: '/etc/passwd', group: '/etc/group' });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** What the service wrote on the connection before closing it. */
function served(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('error', reject);
    s.on('close', () => resolve(out.trim()));
  });
}

describe('User= across reloads', () => {
  it('each instance resolves User= when it starts, as systemd does (no reload needed)', async (ctx) => {
    need(ctx, reasonMissing('root'));
    dir = tempDir('mdl-user-reload-');
    const passwd = path.join(dir, 'passwd');
    const group = path.join(dir, 'group');
    writeFileSync(passwd, 'svc:x:4001:4001::/:/bin/sh\n');
    writeFileSync(group, 'svc:x:4001:\n');
    useUserDatabase({ passwd, group });
    const port = await freePort();
    const units = writeUnits(path.join(dir, 'units'), {
      'who.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
      'who@.service': '[Service]\nExecStart=/usr/bin/id -u\nUser=svc\nStandardInput=socket\nStandardOutput=socket\n',
    });
    engine = await createEngine({
      unitDirs: [units],
      log: createLogger({ maxLevel: 'warning', write: () => undefined }),
    });
    const report = await engine.start();
    expect(report.failed).toEqual([]);
    expect(await served(port)).toBe('4001');

    // The database changes: systemd resolves User= in the exec child at every start, so the next
    // instance already runs as the new uid, without a reload (useradd/usermod need none either).
    writeFileSync(passwd, 'svc:x:4002:4002::/:/bin/sh\n');
    expect(await served(port)).toBe('4002');
    expect(await served(port)).toBe('4002');
    await engine.reload();
    expect(await served(port)).toBe('4002');
  });

  it('an edited template is used from the next reload on, not before', async () => {
    dir = tempDir('mdl-template-reload-');
    const port = await freePort();
    const units = writeUnits(path.join(dir, 'units'), {
      'ver.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\n`,
      'ver@.service': '[Service]\nExecStart=/bin/echo v1 %i\nStandardInput=socket\nStandardOutput=socket\n',
    });
    engine = await createEngine({
      unitDirs: [units],
      log: createLogger({ maxLevel: 'warning', write: () => undefined }),
    });
    expect((await engine.start()).failed).toEqual([]);
    expect(await served(port)).toMatch(/^v1 0-/);
    writeFileSync(
      path.join(units, 'ver@.service'),
      '[Service]\nExecStart=/bin/echo v2 %i\nStandardInput=socket\nStandardOutput=socket\n',
    );
    expect(await served(port)).toMatch(/^v1 1-/);
    await engine.reload();
    expect(await served(port)).toMatch(/^v2 2-/);
  });
});
