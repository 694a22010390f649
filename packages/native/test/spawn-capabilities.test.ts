/**
 * spawnProcess's capability steps (child_caps.cc) and privateTmp against real processes: the child
 * reports its own /proc/self/status. The bounding set is dropped, ambient capabilities survive the switch to another
 * uid (KEEP_CAPS, raised again after setresuid()), and a daemon that may not drop the bounding set
 * (no CAP_SETPCAP) gets `prctl EPERM (PR_CAPBSET_DROP …)` with no process left behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { close, spawnProcessAsync, watchExit } from '../src/index.js';
import { onCI as IN_CI } from './helpers/capability.js';

const dir = mkdtempSync(join(tmpdir(), 'native-caps-'));
execFileSync('chmod', ['1777', dir]);
const isRoot = process.getuid?.() === 0;
const ownBnd = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'}`);

/** Runs /bin/sh writing its capability and Uid lines to a file, waits for its exit, returns the lines. */
async function report(name: string, options: Record<string, unknown>): Promise<Record<string, string>> {
  const out = join(dir, name);
  const p = await spawnProcessAsync({
    file: '/bin/sh',
    argv: ['sh', '-c', `grep -E '^(Uid|Cap[A-Za-z]+):' /proc/self/status > ${out}`],
    envp: [],
    fds: [-1, -1, -1],
    ...options,
  });
  const exit = await new Promise((resolve) => watchExit(p.pidfd, (e) => resolve(e)));
  close(p.pidfd);
  expect(exit).toEqual({ code: 0, signal: null });
  const got: Record<string, string> = {};
  for (const l of readFileSync(out, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(.*)$/.exec(l);
    if (m) got[m[1] as string] = (m[2] as string).split(/\s+/)[0] as string;
  }
  return got;
}

const hex = (n: bigint): string => n.toString(16).padStart(16, '0');

describe('spawnProcess capabilities', () => {
  it.skipIf(!isRoot && !IN_CI)(
    'capabilityBoundingSet drops the others before exec (root keeps exactly those)',
    async () => {
      const keep = (1n << 10n) | (1n << 13n); // CAP_NET_BIND_SERVICE, CAP_NET_RAW
      const got = await report('bset', { capabilityBoundingSet: keep });
      expect(got).toMatchObject({ Uid: '0', CapBnd: hex(keep & ownBnd), CapPrm: hex(keep & ownBnd), CapAmb: hex(0n) });
      // Keeping every capability changes nothing.
      expect((await report('all', { capabilityBoundingSet: (1n << 64n) - 1n })).CapBnd).toBe(hex(ownBnd));
    },
  );

  it.skipIf(!isRoot && !IN_CI)(
    'ambientCapabilities survive uid 65534: inheritable, permitted, effective, ambient',
    async () => {
      const want = (1n << 10n) | (1n << 13n);
      const got = await report('amb', { uid: 65534, gid: 65534, ambientCapabilities: want });
      expect(got).toMatchObject({
        Uid: '65534',
        CapInh: hex(want),
        CapPrm: hex(want),
        CapEff: hex(want),
        CapAmb: hex(want),
      });
      // Without it the switch leaves nothing; outside the bounding set it is left out (as systemd).
      expect(await report('none', { uid: 65534, gid: 65534 })).toMatchObject({ CapPrm: hex(0n), CapAmb: hex(0n) });
      const left = await report('outside', {
        uid: 65534,
        gid: 65534,
        capabilityBoundingSet: 1n << 10n,
        ambientCapabilities: want,
      });
      expect(left).toMatchObject({ CapBnd: hex(1n << 10n), CapAmb: hex(1n << 10n), CapPrm: hex(1n << 10n) });
    },
  );

  it.skipIf(!isRoot && !IN_CI)(
    'privateTmp: the given directories on /tmp and /var/tmp, in a mount namespace of its own',
    async () => {
      const tmp = mkdtempSync('/dev/shm/native-pt-');
      const varTmp = mkdtempSync('/dev/shm/native-pvt-');
      const marker = mkdtempSync(join(tmpdir(), 'native-host-'));
      onTestFinished(() => {
        for (const d of [tmp, varTmp, marker]) rmSync(d, { recursive: true, force: true });
      });
      const out = join(tmp, 'seen');
      const p = await spawnProcessAsync({
        file: '/bin/sh',
        argv: ['sh', '-c', `ls -A /tmp > /tmp/seen; echo v > /var/tmp/v; readlink /proc/self/ns/mnt >> /tmp/seen`],
        envp: [],
        fds: [-1, -1, -1],
        privateTmp: { tmp, varTmp },
      });
      const exit = await new Promise((resolve) => watchExit(p.pidfd, (e) => resolve(e)));
      close(p.pidfd);
      expect(exit).toEqual({ code: 0, signal: null });
      const [entries, ns] = readFileSync(out, 'utf8').split('\n');
      expect(entries).toBe('seen'); // only what it wrote: not the host's /tmp (which has `marker`)
      expect(ns).not.toBe(readlinkSync('/proc/self/ns/mnt'));
      expect(readFileSync(join(varTmp, 'v'), 'utf8')).toBe('v\n');
      expect(marker.startsWith(tmpdir())).toBe(true);
      await expect(
        spawnProcessAsync({ file: '/bin/true', argv: ['true'], envp: [], fds: [], privateTmp: { tmp: 'rel', varTmp } }),
      ).rejects.toThrow(TypeError);
    },
  );

  it.skipIf(!isRoot && !IN_CI)(
    'mounts: bind, readonly (submounts one by one), inaccessible, tmpfs, umount; a failing step is its syscall, errno and path',
    async () => {
      const base = mkdtempSync('/dev/shm/native-mounts-');
      onTestFinished(() => rmSync(base, { recursive: true, force: true }));
      for (const d of ['ro', 'ro/rw', 'secret', 'home', 'nodes']) execFileSync('mkdir', ['-p', join(base, d)]);
      execFileSync('sh', ['-c', `echo s > ${base}/secret/s; mkdir -m 0 ${base}/nodes/dir; : > ${base}/nodes/reg`]);
      const run = async (script: string, mounts: unknown[]): Promise<string> => {
        const out = join(dir, `mounts-${Math.random().toString(36).slice(2)}`);
        const p = await spawnProcessAsync({
          file: '/bin/sh',
          argv: ['sh', '-c', `{ ${script}; } > ${out} 2>&1`],
          envp: ['PATH=/usr/bin:/bin'],
          fds: [-1, -1, -1],
          mounts: mounts as never,
          inaccessibleDir: join(base, 'nodes'),
        });
        await new Promise((resolve) => watchExit(p.pidfd, (e) => resolve(e)));
        close(p.pidfd);
        return readFileSync(out, 'utf8');
      };
      const w = (p: string): string => `touch ${p}/x 2>/dev/null && echo ${p}:rw || echo ${p}:ro`;
      const got = await run(
        `${w(`${base}/ro`)}; ${w(`${base}/ro/rw`)}; ls -A ${base}/secret | wc -l; stat -c %a ${base}/secret; stat -f -c %T ${base}/home; ${w(`${base}/home`)}`,
        [
          { op: 'bind', path: `${base}/ro`, source: `${base}/ro`, recursive: true },
          { op: 'bind', path: `${base}/ro/rw`, source: `${base}/ro/rw`, recursive: true },
          { op: 'inaccessible', path: `${base}/secret` },
          { op: 'tmpfs', path: `${base}/home`, options: 'mode=0755', flags: 0 },
          { op: 'readonly', path: `${base}/ro` },
          { op: 'readonly', path: `${base}/secret` },
          { op: 'readonly', path: `${base}/nonexistent`, ignoreMissing: true },
          { op: 'readonly', path: `${base}/secret/gone`, submount: true },
        ],
      );
      expect(got.split('\n')).toEqual([`${base}/ro:ro`, `${base}/ro/rw:rw`, '0', '0', 'tmpfs', `${base}/home:rw`, '']);
      // noexec and nosuid: the mount's options in the child's own mountinfo.
      const opts = await run(`grep -E ' ${base}/ro ' /proc/self/mountinfo | cut -d' ' -f6`, [
        { op: 'bind', path: `${base}/ro`, source: `${base}/ro`, recursive: true },
        { op: 'noexec', path: `${base}/ro` },
        { op: 'nosuid', path: `${base}/ro`, recursive: true },
      ]);
      expect(opts.trim().split(',')).toEqual(expect.arrayContaining(['rw', 'nosuid', 'noexec']));
      // A missing path: the step's syscall, errno and path; with ignoreMissing it is skipped.
      const missing = { op: 'bind', path: `${base}/missing`, source: `${base}/missing`, recursive: true };
      await expect(
        spawnProcessAsync({ file: '/bin/true', argv: ['true'], envp: [], fds: [], mounts: [missing as never] }),
      ).rejects.toMatchObject({ code: 'ENOENT', syscall: 'mount', path: `${base}/missing` });
      expect(await run('echo ran', [{ ...missing, ignoreMissing: true }])).toBe('ran\n');
      await expect(
        spawnProcessAsync({
          file: '/bin/true',
          argv: ['true'],
          envp: [],
          fds: [],
          mounts: [{ op: 'readonly', path: `${base}/ro` }],
        }),
      ).rejects.toMatchObject({ code: 'EINVAL', syscall: 'mount_setattr', path: `${base}/ro` }); // not a mount point
      await expect(
        spawnProcessAsync({
          file: '/bin/true',
          argv: ['true'],
          envp: [],
          fds: [],
          mounts: [{ op: 'inaccessible', path: `${base}/missing` }],
          inaccessibleDir: join(base, 'nodes'),
        }),
      ).rejects.toMatchObject({ code: 'ENOENT', syscall: 'lstat', path: `${base}/missing` });
      await expect(
        spawnProcessAsync({
          file: '/bin/true',
          argv: ['true'],
          envp: [],
          fds: [],
          mounts: [{ op: 'inaccessible', path: '/x' }],
        }),
      ).rejects.toThrow(TypeError); // no inaccessibleDir
    },
  );

  it('argument errors: not a bigint, out of range', async () => {
    await expect(
      spawnProcessAsync({ file: '/bin/true', argv: ['true'], envp: [], fds: [], capabilityBoundingSet: 5 as never }),
    ).rejects.toThrow(TypeError);
    await expect(
      spawnProcessAsync({ file: '/bin/true', argv: ['true'], envp: [], fds: [], ambientCapabilities: 1n << 64n }),
    ).rejects.toThrow(TypeError);
  });

  it.skipIf(!isRoot && !IN_CI)(
    'without CAP_SETPCAP (dropped from the bounding set): prctl EPERM (PR_CAPBSET_DROP capability 0)',
    () => {
      const index = fileURLToPath(new URL('../dist/index.js', import.meta.url));
      const script = `
      import { spawnProcess } from ${JSON.stringify(index)};
      try {
        spawnProcess({ file: '/bin/true', argv: ['true'], envp: [], fds: [], capabilityBoundingSet: 1n << 10n });
        console.log('spawned');
      } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, syscall: e.syscall, message: e.message })); }`;
      const out = execFileSync(
        'setpriv',
        // Still root, so the checkout is readable wherever it lives (another uid may not reach a 0700
        // parent directory); without CAP_SETPCAP in its bounding set, root's execve leaves it out of the
        // permitted and effective sets too.
        ['--bounding-set=-setpcap', process.execPath, '--input-type=module', '-e', script],
        {
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      const err = JSON.parse(out) as { name: string; code: string; syscall: string; message: string };
      expect(err).toMatchObject({ name: 'ProcessSpawnError', code: 'EPERM', syscall: 'prctl' });
      expect(err.message).toMatch(/\(PR_CAPBSET_DROP capability 0\)/);
    },
  );
});
