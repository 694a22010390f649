/**
 * Issue 10, security: a service never runs with more privilege than its unit asks for, the control
 * socket cannot be hijacked by another user (neither its directory nor the server the CLI talks
 * to), and `Symlinks=` never replaces or removes a link that is not the daemon's.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@mptcp/testkit/net';
import { DAEMON_CLI } from '@mptcp/testkit/paths';
import { start, type Running } from '@mptcp/testkit/proc';
import { writeAcceptUnit, writeListenUnit } from '@mptcp/testkit/units';
import { cleanup, startFixture, until } from '../src/fixture.js';
import { scratchDirs, withFixture } from './helpers/case.js';
import { readAll } from '../src/client.js';
import { report, requireCaps } from '../src/require.js';

const fresh = scratchDirs();
const procs: Running[] = [];
/** /tmp/mptcpd-lite-UID directories the tests make outside their scratch directories. */
const ctlDirs: string[] = [];
/** Directories above the checkout that had no search bit for others, and their modes. */
const opened: [string, number][] = [];
beforeAll(() => {
  // The daemon runs here as a uid with no account: it must reach the checkout (dist/, node_modules).
  // A checkout under a private directory (mktemp -d is 0700) hides it; open the search bit of each
  // such ancestor for the run (search only, no listing) and put the modes back afterwards.
  if (process.getuid?.() !== 0) return;
  for (let d = dirname(DAEMON_CLI); ; d = dirname(d)) {
    const mode = statSync(d).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      chmodSync(d, mode | 0o001);
      opened.push([d, mode]);
    }
    if (dirname(d) === d) break;
  }
});
/** Accounts a test added (userdel, groupdel after). */
const accounts: string[] = [];

afterAll(async () => {
  for (const p of procs) await p.stop('SIGKILL');
  for (const name of accounts.splice(0)) {
    execFileSync('userdel', [name], { stdio: 'ignore' });
    try {
      execFileSync('groupdel', [name], { stdio: 'ignore' });
    } catch {
      // userdel removed the user's group already
    }
  }
  ctlDirs.forEach(cleanup);
  for (const [d, mode] of opened) chmodSync(d, mode);
});

/** A uid no account has, unique per run, so that parallel runs never share /tmp/mptcpd-lite-UID. */
function strayUid(): number {
  return 40_000 + ((process.pid * 7 + Date.now()) % 20_000);
}

/** "Uid:\t0\t0\t0\t0" → [0, 0, 0, 0] */
function ids(text: string, key: string): number[] {
  const m = new RegExp(`^${key}:(.*)$`, 'm').exec(text);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean).map(Number) : [];
}

/** Starts the daemon as `uid` (setpriv), without XDG_RUNTIME_DIR, so the control socket takes its default place. */
function daemonAs(uid: number, units: string, extra: string[] = []): Running {
  const env = { ...process.env };
  delete env.XDG_RUNTIME_DIR;
  delete env.MPTCPD_LITE_CONTROL;
  delete env.NOTIFY_SOCKET;
  const p = start(
    'setpriv',
    [
      `--reuid=${uid}`,
      `--regid=${uid}`,
      '--clear-groups',
      process.execPath,
      DAEMON_CLI,
      'run',
      '--units',
      units,
      ...extra,
    ],
    { env },
  );
  procs.push(p);
  return p;
}

/** Runs the daemon until it is ready (resolves 'ready') or exits (resolves with its stderr). */
async function readyOrExit(p: Running): Promise<{ ready: boolean; stderr: string; code?: number | string }> {
  const ready = await Promise.race([
    p.waitFor(/^\{"event":"ready"/, 30_000).then(() => true),
    p.exited.then(() => false),
  ]).catch(() => false);
  if (ready) return { ready: true, stderr: p.stderr.join('\n') };
  const code = await p.exited;
  return { ready: false, stderr: p.stderr.join('\n'), code };
}

describe('privilege: ids are uint32, a change that cannot be made fails the start', () => {
  it.for<[string, string[], number, number]>([
    ['User=2147483648', ['User=2147483648'], 2147483648, 2147483648],
    ['User=nobody + Group=3000000000', ['User=nobody', 'Group=3000000000'], 65534, 3000000000],
  ])('%s never runs the service as root', async ([label, lines, wantUid, wantGid], ctx) => {
    requireCaps(ctx, ['root', 'daemon']);
    const dir = fresh('bigid');
    const out = join(dir, 'out');
    mkdirSync(out, { mode: 0o777 });
    chmodSync(out, 0o777);
    const port = await freePort();
    writeListenUnit(join(dir, 'units'), {
      name: 'big',
      listen: [`127.0.0.1:${port}`],
      exec: `/bin/sh -c "cat /proc/self/status > ${out}/status"`,
      service: lines,
    });
    await withFixture(dir, async (fx) => {
      await readAll('127.0.0.1', port, 10_000).catch(() => '');
      const outcome = await until(
        () =>
          existsSync(join(out, 'status')) && readFileSync(join(out, 'status'), 'utf8').includes('Uid:')
            ? 'ran'
            : fx.daemon.proc.stderr.some((l) => /big\.service.*Failed to start|Failed to start.*big/.test(l))
              ? 'refused'
              : undefined,
        60_000,
        'the service to run or its start to fail',
      );
      const st = outcome === 'ran' ? readFileSync(join(out, 'status'), 'utf8') : '';
      report(
        'privilege-big-id',
        `Accept=no service with ${label}`,
        outcome === 'ran' ? `ran as uid ${ids(st, 'Uid').join(',')} gid ${ids(st, 'Gid').join(',')}` : 'start failed',
        {},
      );
      if (outcome === 'ran') {
        expect(ids(st, 'Uid')).toEqual([wantUid, wantUid, wantUid, wantUid]);
        expect(ids(st, 'Gid')).toEqual([wantGid, wantGid, wantGid, wantGid]);
      }
      // Either way: never uid 0 / gid 0 with a unit that asked for something else.
      expect(ids(st, 'Uid')).not.toContain(0);
    });
  });

  it.for(['4294967295', '65535'])('User=%s is refused (systemd: not a valid uid), the start fails', async (id, ctx) => {
    requireCaps(ctx, ['root', 'daemon']);
    const dir = fresh('badid');
    const port = await freePort();
    writeAcceptUnit(join(dir, 'units'), {
      name: 'bad',
      listen: `127.0.0.1:${port}`,
      exec: '/bin/cat /proc/self/status',
      service: [`User=${id}`],
    });
    await withFixture(dir, async (fx) => {
      const got = await readAll('127.0.0.1', port, 10_000).catch((e: unknown) => `ERR ${String(e)}`);
      const line = await fx.daemon.proc
        .waitFor(/is not valid|Invalid user\/group name or numeric ID/, 10_000)
        .catch(() => '');
      report(
        'privilege-invalid-id',
        `Accept=yes service with User=${id}`,
        `service output ${JSON.stringify(got.slice(0, 40))}; log: ${line.slice(0, 120)}`,
        {},
      );
      expect(ids(got, 'Uid')).toEqual([]);
      expect(line).toMatch(new RegExp(`user id ${id} is not valid|Invalid user/group name or numeric ID: ${id}`));
    });
  });

  it('an unprivileged daemon with User= of its own uid starts the service (no setgroups EPERM)', async (ctx) => {
    requireCaps(ctx, ['root', 'setpriv', 'daemon']);
    const dir = fresh('selfuid');
    const uid = strayUid();
    // The uid needs an account: as systemd 257, a User= with no passwd entry (numeric or not) fails
    // the start (217/USER). Added here, removed after.
    const name = `mptcprel${uid}`;
    execFileSync('groupadd', ['-g', String(uid), name]);
    execFileSync('useradd', [
      '-u',
      String(uid),
      '-g',
      String(uid),
      '-M',
      '-N',
      '-d',
      '/nonexistent',
      '-s',
      '/usr/sbin/nologin',
      name,
    ]);
    accounts.push(name);
    const port = await freePort();
    writeAcceptUnit(join(dir, 'units'), {
      name: 'self',
      listen: `127.0.0.1:${port}`,
      exec: '/bin/cat /proc/self/status',
      service: [`User=${uid}`, `Group=${uid}`],
    });
    const ctl = join(dir, 'ctl');
    mkdirSync(ctl, { mode: 0o700 });
    chownSync(ctl, uid, uid);
    const p = daemonAs(uid, join(dir, 'units'), ['--control', join(ctl, 'control.sock')]);
    const r = await readyOrExit(p);
    expect(r.ready, r.stderr).toBe(true);
    const st = await readAll('127.0.0.1', port, 10_000).catch(() => '');
    report(
      'privilege-own-uid',
      `daemon as uid ${uid} (no CAP_SETGID) with an Accept=yes service User=${uid}`,
      `service uid ${ids(st, 'Uid').join(',') || 'none (start failed)'}`,
      {},
    );
    await p.stop('SIGTERM', 10_000);
    expect(ids(st, 'Uid')).toEqual([uid, uid, uid, uid]);
  });
});

describe('privilege: the control socket', () => {
  it('a non-root daemon refuses a /tmp/mptcpd-lite-UID it does not own or that others may write', async (ctx) => {
    requireCaps(ctx, ['root', 'setpriv', 'daemon']);
    const dir = fresh('ctldir');
    mkdirSync(join(dir, 'units'));
    const uid = strayUid() + 1;
    const ctlDir = `/tmp/mptcpd-lite-${uid}`;
    rmSync(ctlDir, { recursive: true, force: true });
    ctlDirs.push(ctlDir);
    // 1. Another user (here root) made it mode 0777: anyone could swap the socket.
    mkdirSync(ctlDir);
    chmodSync(ctlDir, 0o777);
    const worldWritable = await readyOrExit(daemonAs(uid, join(dir, 'units')));
    // 2. Owned by some other uid, mode 0700.
    chmodSync(ctlDir, 0o700);
    chownSync(ctlDir, uid + 1, uid + 1);
    const foreign = await readyOrExit(daemonAs(uid, join(dir, 'units')));
    // 3. Not there: the daemon makes it (0700) and its socket is 0600 from the start.
    rmSync(ctlDir, { recursive: true, force: true });
    const p = daemonAs(uid, join(dir, 'units'));
    const own = await readyOrExit(p);
    const dirMode = own.ready ? lstatSync(ctlDir).mode & 0o7777 : -1;
    const sockMode = own.ready ? lstatSync(join(ctlDir, 'control.sock')).mode & 0o7777 : -1;
    await p.stop('SIGTERM', 10_000);
    report(
      'control-dir',
      `daemon as uid ${uid} without XDG_RUNTIME_DIR: ${ctlDir} mode 0777 by root, then owned by uid ${uid + 1}, then absent`,
      `0777: ${worldWritable.ready ? 'ACCEPTED' : 'refused'}; foreign: ${foreign.ready ? 'ACCEPTED' : 'refused'}; own: dir ${dirMode.toString(8)} socket ${sockMode.toString(8)}`,
      {},
    );
    expect(worldWritable.ready).toBe(false);
    expect(worldWritable.stderr).toMatch(/writable by others/);
    expect(foreign.ready).toBe(false);
    expect(foreign.stderr).toMatch(new RegExp(`owned by uid ${uid + 1}`));
    expect(own.ready, own.stderr).toBe(true);
    expect(dirMode).toBe(0o700);
    expect(sockMode).toBe(0o600);
  });

  it('the CLI refuses to believe a control socket served by another uid (SO_PEERCRED)', async (ctx) => {
    requireCaps(ctx, ['root', 'setpriv', 'daemon']);
    const dir = fresh('fakectl');
    const uid = strayUid() + 2;
    const ctlDir = join(dir, 'ctl');
    mkdirSync(ctlDir, { mode: 0o755 });
    chownSync(ctlDir, uid, uid);
    const path = join(ctlDir, 'control.sock');
    const fake = `
const s = require('net').createServer((c) => c.end(JSON.stringify({ ok: true, status: { pid: 1, uid: 0, version: 'FAKE', startedAt: '', uptimeSec: 1, unitDirs: [], control: '', sockets: [{ unit: 'FAKE.socket', state: 'listening', accept: false, listen: [], connections: 0, accepted: 0, refused: 0, activations: 0 }], services: [], failed: [] } }) + '\\n'));
s.listen(process.argv[1], () => { require('fs').chmodSync(process.argv[1], 0o666); console.log('LISTENING'); });`;
    const f = start('setpriv', [
      `--reuid=${uid}`,
      `--regid=${uid}`,
      '--clear-groups',
      process.execPath,
      '-e',
      fake,
      path,
    ]);
    procs.push(f);
    await f.waitFor(/LISTENING/, 20_000);
    const cli = start(process.execPath, [DAEMON_CLI, 'status', '--control', path]);
    const code = await cli.exited;
    await f.stop('SIGKILL');
    const out = cli.stdout.join('\n');
    const err = cli.stderr.join('\n');
    report(
      'control-peer',
      `mptcpd-lite status (root) against a socket served by uid ${uid}`,
      `exit ${code}; ${err.slice(0, 140)}`,
      {},
    );
    expect(out).not.toMatch(/FAKE/);
    expect(code).toBe(2);
    expect(err).toMatch(new RegExp(`served by uid ${uid}`));
  });
});

describe('privilege: Symlinks=', () => {
  it('leaves a foreign existing symlink in place with a warning, and RemoveOnStop= never deletes it', async (ctx) => {
    requireCaps(ctx, ['root', 'daemon']);
    const dir = fresh('symlink');
    const sock = join(dir, 'run', 'app.sock');
    const ours = join(dir, 'ours.sock');
    const theirs = join(dir, 'theirs.sock');
    const foreignTarget = join(dir, 'someone-elses-file');
    writeFileSync(foreignTarget, 'not yours\n');
    symlinkSync(foreignTarget, theirs);
    writeAcceptUnit(join(dir, 'units'), {
      name: 'ln',
      listen: sock,
      exec: '/bin/echo hi',
      socket: [`Symlinks=${ours} ${theirs}`, 'RemoveOnStop=yes'],
    });
    const fx = await startFixture(dir);
    let during = '';
    let oursDuring = '';
    let warned = '';
    try {
      during = readlinkSync(theirs);
      oursDuring = readlinkSync(ours);
      warned = await fx.daemon.proc.waitFor(/Failed to create symlink/, 60_000).catch(() => '');
    } finally {
      await fx.stop();
    }
    const after = existsSync(theirs) ? readlinkSync(theirs) : '(deleted)';
    report(
      'symlinks-foreign',
      "Symlinks= naming an existing symlink to someone else's file, RemoveOnStop=yes",
      `while running: ${during === foreignTarget ? 'kept' : `replaced by ${during}`}; after stop: ${after === foreignTarget ? 'kept' : after}; our own link removed: ${!existsSync(ours)}`,
      {},
    );
    expect(during).toBe(foreignTarget);
    expect(warned).toMatch(/theirs\.sock/);
    expect(after).toBe(foreignTarget);
    expect(oursDuring).toBe(sock);
    expect(existsSync(ours)).toBe(false);
  });
});
