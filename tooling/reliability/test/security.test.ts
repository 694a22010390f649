/**
 * Security: the control socket refuses other users, User= really drops privileges, ExecStart=
 * arguments are never given to a shell, and a service inherits only the fds it should.
 */
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '@mptcp/testkit/net';
import { oneConnection } from '@mptcp/testkit/loadgen';
import { run } from '@mptcp/testkit/proc';
import { writeAcceptUnit, writeListenUnit } from '@mptcp/testkit/units';
import { until } from '../src/fixture.js';
import { scratchDirs, withFixture } from './helpers/case.js';
import { readAll } from '../src/client.js';
import { report, requireCaps } from '../src/require.js';

const fresh = scratchDirs();

const AS_NOBODY = ['--reuid=nobody', '--regid=nogroup', '--clear-groups'];

/** As `nobody` (Node, which nobody can run): connect to the control socket, ask for status, print what happened. */
async function controlAsNobody(path: string): Promise<string> {
  const js = `
const s = require('net').createConnection(process.argv[1]);
let got = '';
let connected = false;
const out = (t) => { process.stdout.write(t + '\\n'); process.exit(0); };
setTimeout(() => out(got ? 'REPLY ' + got.trim() : 'TIMEOUT'), 60_000);
s.on('connect', () => { connected = true; s.write('{"cmd":"status"}\\n'); });
s.on('data', (d) => { got += d; if (got.includes('\\n')) out('REPLY ' + got.trim()); });
s.on('error', (e) => out((connected ? 'IO_ERR ' : 'CONNECT_ERR ') + e.code));
s.on('close', () => out(got ? 'REPLY ' + got.trim() : 'CLOSED'));
`;
  return (await run('setpriv', [...AS_NOBODY, process.execPath, '-e', js, path])).trim();
}

/** A status line from /proc/PID/status as numbers: "Uid:\t0\t0\t0\t0" → [0,0,0,0]. */
function ids(text: string, key: string): number[] {
  const m = new RegExp(`^${key}:(.*)$`, 'm').exec(text);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean).map(Number) : [];
}

/** `ls -l /proc/self/fd` → fd → link target. */
function fdTable(ls: string): Map<number, string> {
  const t = new Map<number, string>();
  for (const line of ls.split('\n')) {
    const m = /\s(\d+) -> (.*)$/.exec(line);
    if (m) t.set(Number(m[1]), m[2]!);
  }
  return t;
}

describe('security', () => {
  it('the control socket refuses a peer of another uid', async (ctx) => {
    requireCaps(ctx, ['root', 'setpriv', 'daemon']);
    const dir = fresh('ctl');
    const p0 = await freePort();
    writeListenUnit(join(dir, 'units'), { name: 'x', listen: [`127.0.0.1:${p0}`], exec: '/bin/true' });
    await withFixture(dir, async (fx) => {
      const asRoot = await fx.status();
      expect(asRoot.ok).toBe(true);
      const byMode = await controlAsNobody(fx.control);
      // Take the file mode out of the way: the daemon itself must check the peer (SO_PEERCRED).
      chmodSync(fx.control, 0o666);
      const byPeer = await controlAsNobody(fx.control);
      report(
        'security-control-uid',
        'status request on the control socket as nobody (mode 0600, then 0666)',
        `mode 0600: ${byMode}; mode 0666: ${byPeer.slice(0, 120)}`,
        {},
      );
      expect(byMode).toBe('CONNECT_ERR EACCES');
      expect(byPeer).not.toMatch(/"sockets"/);
      expect(byPeer).toMatch(/^(CLOSED|IO_ERR \w+|REPLY \{"ok":false.*)$/);
      expect((await fx.status()).ok).toBe(true); // and the daemon is still fine
    });
  });

  it('User=nobody runs the service as nobody with no supplementary groups', async (ctx) => {
    requireCaps(ctx, ['root', 'daemon']);
    const dir = fresh('user');
    const p0 = await freePort();
    writeAcceptUnit(join(dir, 'units'), {
      name: 'who',
      listen: `127.0.0.1:${p0}`,
      exec: '/bin/cat /proc/self/status',
      service: ['User=nobody'],
    });
    await withFixture(dir, async () => {
      const st = await readAll('127.0.0.1', p0);
      const uid = ids(st, 'Uid');
      const gid = ids(st, 'Gid');
      const groups = ids(st, 'Groups');
      report(
        'security-user',
        'Accept=yes service with User=nobody printing its /proc/self/status',
        `uids ${uid.join(',')} gids ${gid.join(',')} groups [${groups.join(',')}]`,
        {},
      );
      expect(uid).toEqual([65534, 65534, 65534, 65534]);
      expect(gid).toEqual([65534, 65534, 65534, 65534]);
      expect(groups.filter((g) => g !== 65534)).toEqual([]);
    });
  });

  it('ExecStart arguments with shell metacharacters reach argv literally', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = fresh('argv');
    const p0 = await freePort();
    const p = (n: string): string => join(dir, n);
    const args = [
      'a;b',
      'c|d',
      '&&',
      `$(touch ${p('pwned1')})`,
      `\`touch ${p('pwned2')}\``,
      `>${p('pwned3')}`,
      '*',
      "'q'",
      'x y',
    ];
    // unit-file quoting: double quotes group, `$$` is a literal `$`
    const quoted = args.map((a) => `"${a.replace(/\$/g, '$$$$')}"`).join(' ');
    const exec = `${process.execPath} -e "process.stdout.write(JSON.stringify(process.argv.slice(1)))" ${quoted}`;
    writeAcceptUnit(join(dir, 'units'), { name: 'argv', listen: `127.0.0.1:${p0}`, exec });
    await withFixture(dir, async () => {
      const out = await readAll('127.0.0.1', p0);
      const argv = JSON.parse(out) as string[];
      const pwned = ['pwned1', 'pwned2', 'pwned3'].filter((n) => existsSync(p(n)));
      report(
        'security-argv',
        `ExecStart with ${args.length} arguments full of ; | && $() \` > * ' and spaces`,
        `argv literal: ${JSON.stringify(argv) === JSON.stringify(args)}; files created by a shell: ${pwned.length}`,
        {},
      );
      expect(argv).toEqual(args);
      expect(pwned).toEqual([]);
    });
  });

  /**
   * argv prefix that starts the daemon with a clean fd table (whatever started the test may leak fds
   * into it), optionally plus stray inheritable fds at 9 and 100, as a sloppy parent would leave.
   */
  function cleanFds(stray: boolean): string[] {
    const py = [
      'import os, sys',
      'os.closerange(3, 65536)',
      ...(stray
        ? [
            'os.dup2(os.open("/dev/null", os.O_RDONLY), 9, inheritable=True)',
            'os.dup2(os.open("/dev/null", os.O_RDONLY), 100, inheritable=True)',
          ]
        : []),
      'os.execv(sys.argv[1], sys.argv[1:])',
    ].join('; ');
    return ['python3', '-c', py];
  }

  it('a service sees only its expected fds (/proc/self/fd)', async (ctx) => {
    requireCaps(ctx, ['python3', 'daemon']);
    const dir = fresh('fds');
    const [p0, p1, p2] = [await freePort(), await freePort(), await freePort()];
    const out = join(dir, 'fds.txt');
    // Accept=no with two listening sockets: fds 0-2, then exactly LISTEN_FDS=2 sockets at 3 and 4
    writeListenUnit(join(dir, 'units'), {
      name: 'fds',
      listen: [`127.0.0.1:${p0}`, `127.0.0.1:${p1}`],
      exec: `/bin/sh -c "exec /bin/ls -l /proc/self/fd > ${out}"`,
    });
    // Accept=yes with the connection on stdin/stdout: nothing at 3 and above but ls's own directory fd
    writeAcceptUnit(join(dir, 'units'), { name: 'fdy', listen: `127.0.0.1:${p2}`, exec: '/bin/ls -l /proc/self/fd' });
    await withFixture(
      dir,
      async () => {
        await oneConnection({ host: '127.0.0.1', ports: [p0], concurrency: 1, seconds: 0, timeoutMs: 60_000 }, p0);
        await until(() => existsSync(out) && readFileSync(out, 'utf8').includes('->'), 60_000, 'fd listing');
        const no = fdTable(readFileSync(out, 'utf8'));
        const yes = fdTable(await readAll('127.0.0.1', p2));
        const extra = (t: Map<number, string>, allowed: number[]): string[] =>
          [...t]
            .filter(([fd, target]) => fd > 2 && !allowed.includes(fd) && !/\/proc\/\d+\/fd$/.test(target))
            .map(([fd, target]) => `${fd} -> ${target}`);
        report(
          'security-fds',
          'ls -l /proc/self/fd as an Accept=no service (2 sockets) and as an Accept=yes service',
          `Accept=no: ${[...no.keys()].join(',')}; Accept=yes: ${[...yes.keys()].join(',')}`,
          {
            acceptNoExtra: extra(no, [3, 4]).length,
            acceptYesExtra: extra(yes, []).length,
          },
        );
        expect(no.get(3)).toMatch(/^socket:/);
        expect(no.get(4)).toMatch(/^socket:/);
        expect(extra(no, [3, 4])).toEqual([]);
        expect(yes.get(0)).toMatch(/^socket:/);
        expect(yes.get(1)).toMatch(/^socket:/);
        expect(extra(yes, [])).toEqual([]);
      },
      { prefix: cleanFds(false) },
    );
  });

  it('fds the daemon inherited are not passed on to services', async (ctx) => {
    requireCaps(ctx, ['python3', 'daemon']);
    const dir = fresh('stray');
    const p0 = await freePort();
    writeAcceptUnit(join(dir, 'units'), { name: 'fdz', listen: `127.0.0.1:${p0}`, exec: '/bin/ls -l /proc/self/fd' });
    await withFixture(
      dir,
      async (fx) => {
        const daemonSees = [9, 100].every(
          (fd) => readFileSync(`/proc/${fx.daemon.proc.pid}/fdinfo/${fd}`, 'utf8').length > 0,
        );
        const yes = fdTable(await readAll('127.0.0.1', p0));
        report(
          'security-inherited-fd',
          'daemon started with stray inheritable fds 9 and 100 (/dev/null); Accept=yes service lists /proc/self/fd',
          `service fds: ${[...yes.keys()].join(',')}`,
          {
            daemonHasThem: daemonSees,
            serviceHas9: yes.has(9),
            serviceHas100: yes.has(100),
          },
        );
        expect(daemonSees).toBe(true);
        expect(yes.has(9)).toBe(false);
        expect(yes.has(100)).toBe(false);
      },
      { prefix: cleanFds(true) },
    );
  });
});
