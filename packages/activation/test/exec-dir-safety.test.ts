/**
 * The audit's exec-directory cases (execdir-file-symlink, execdir-chown, chown-race, rimraf-race,
 * execdir-walk; /tmp/audit2) as deterministic tests of setupExecDirectories(),
 * removeRuntimeDirectories() and PrivateTmp='s removal: what the service user (nobody) can plant in
 * the directories it owns never makes the root daemon chmod, chown or delete a file outside them.
 * The races are injected swaps, not timing: node:fs is wrapped so that right after the first call
 * that names the entry `s` (whatever the walk does with it first: an lstat, an O_PATH open, …), `s`
 * is moved aside and a symlink to the victim is put in its place, the one moment a path-based walk
 * would follow it.
 */
import type * as FS from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ServiceUnit } from '@mptcp/unit';
import { ActivationError } from '../src/errors.js';
import { removeRuntimeDirectories, setupExecDirectories } from '../src/exec-directories.js';
import { createPrivateTmp } from '../src/private-tmp.js';
import { need, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { tmp, unitDir } from './helpers/run.js';

const inject = vi.hoisted(() => ({
  /** Runs once, right after the first fs call whose path ends in `/<name>`. */
  armed: undefined as { name: string; run: () => void } | undefined,
  /** readdir calls seen (any path) while counting. */
  readdirs: 0,
}));

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof FS>();
  const after = (args: unknown[]): void => {
    const a = inject.armed;
    if (a && typeof args[0] === 'string' && args[0].endsWith(`/${a.name}`)) {
      inject.armed = undefined;
      a.run();
    }
  };
  function wrap<A extends unknown[], R>(f: (...args: A) => R): (...args: A) => R {
    return (...args: A): R => {
      const r = f(...args);
      after(args);
      return r;
    };
  }
  const readdirSync = ((...args: Parameters<typeof real.readdirSync>) => {
    inject.readdirs++;
    return wrap(real.readdirSync)(...args);
  }) as typeof real.readdirSync;
  const fs = {
    ...real,
    openSync: wrap(real.openSync),
    lstatSync: wrap(real.lstatSync) as typeof real.lstatSync,
    statSync: wrap(real.statSync) as typeof real.statSync,
    chownSync: wrap(real.chownSync),
    lchownSync: wrap(real.lchownSync),
    chmodSync: wrap(real.chmodSync),
    unlinkSync: wrap(real.unlinkSync),
    rmdirSync: wrap(real.rmdirSync),
    readdirSync,
  };
  return { ...fs, default: fs };
});

// the real module (the mock passes through until a swap is armed)
const fs = await import('node:fs');

const NOBODY = 65534;
const clean: string[] = [];
afterEach(() => {
  inject.armed = undefined;
  for (const p of clean.splice(0)) fs.rmSync(p, { recursive: true, force: true });
});

const suffix = `-s${process.pid}`;

async function service(name: string, body: string): Promise<ServiceUnit> {
  const units = await loadUnits(unitDir({ [`${name}.service`]: `[Service]\n${body}\nExecStart=/bin/true\n` }));
  const u = units.services?.find((s) => s.name === `${name}.service`);
  if (!u) throw new Error('unit not loaded');
  return u;
}

/** A root 0700 directory with root 0600 files (stands for /etc). */
function victimDir(): string {
  const v = join(tmp('victim-'), 'etc');
  clean.push(v);
  fs.mkdirSync(v, 0o700);
  for (const f of ['shadow', 'passwd']) fs.writeFileSync(join(v, f), 'secret', { mode: 0o600 });
  return v;
}

function expectVictimIntact(v: string): void {
  expect(fs.readdirSync(v).sort()).toEqual(['passwd', 'shadow']);
  for (const p of [v, join(v, 'shadow'), join(v, 'passwd')]) expect(fs.statSync(p).uid).toBe(0);
  expect(fs.statSync(v).mode & 0o7777).toBe(0o700);
  expect(fs.statSync(join(v, 'shadow')).mode & 0o7777).toBe(0o600);
}

/** The service user's tree: `dir/s` (a directory with files and a subdirectory). */
function plantTree(dir: string): void {
  fs.mkdirSync(join(dir, 's/deep'), { recursive: true });
  fs.writeFileSync(join(dir, 's/x'), '');
  fs.writeFileSync(join(dir, 's/deep/y'), '');
}

/** Arms the swap of `dir/s` for a symlink to `victim` (the real directory moved to `aside`). */
function armSwap(dir: string, aside: string, victim: string): () => boolean {
  let done = false;
  inject.armed = {
    name: 's',
    run: () => {
      fs.renameSync(join(dir, 's'), aside);
      fs.symlinkSync(victim, join(dir, 's'));
      fs.lchownSync(join(dir, 's'), NOBODY, NOBODY);
      done = true;
    },
  };
  return () => done;
}

describe('exec directory set-up never acts through a symlink the service user planted', () => {
  it('an entry replaced by a symlink to a file: no chmod/chown through it, 233 with 257 message (execdir-file-symlink)', async (ctx) => {
    need(ctx, root);
    const top = `/run/xfs${suffix}`;
    const victim = `/run/xfsvictim${suffix}`;
    clean.push(top, victim);
    fs.writeFileSync(victim, 'secret', { mode: 0o600 });
    fs.mkdirSync(top);
    fs.chownSync(top, NOBODY, NOBODY);
    fs.symlinkSync(victim, join(top, 'sub'));
    fs.lchownSync(join(top, 'sub'), NOBODY, NOBODY);
    const unit = await service('fs', `User=nobody\nRuntimeDirectory=xfs${suffix} xfs${suffix}/sub`);
    let err: unknown;
    try {
      setupExecDirectories(unit, { uid: NOBODY, gid: NOBODY }, () => undefined);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ActivationError);
    expect((err as ActivationError).message).toBe(
      'Failed to set up special execution directory in /run: Not a directory',
    );
    expect((err as ActivationError).exitStatus).toBe(233);
    expect((err as ActivationError).errno).toBe(20);
    const st = fs.statSync(victim);
    expect([st.uid, st.mode & 0o7777]).toEqual([0, 0o600]);
  });

  it('an entry replaced by a symlink to a directory: not chmod-ed, nor chown-ed (a warning); an owned top is not descended (execdir-chown)', async (ctx) => {
    need(ctx, root);
    const top = `/run/xdc${suffix}`;
    clean.push(top);
    const victim = victimDir();
    fs.mkdirSync(top);
    fs.chownSync(top, NOBODY, NOBODY);
    fs.writeFileSync(join(top, 'keep'), ''); // root's, inside the service's own directory
    fs.symlinkSync(victim, join(top, 'sub'));
    fs.lchownSync(join(top, 'sub'), NOBODY, NOBODY);
    const unit = await service('dc', `User=nobody\nRuntimeDirectory=xdc${suffix} xdc${suffix}/sub`);
    const warnings: string[] = [];
    setupExecDirectories(unit, { uid: NOBODY, gid: NOBODY }, (m) => warnings.push(m));
    expectVictimIntact(victim);
    expect(fs.statSync(join(top, 'keep')).uid).toBe(0);
    expect(warnings).toEqual([
      `${top}/sub is a symlink owned by UID ${NOBODY}, not root; not changing the ownership of its target.`,
    ]);
  });

  it('a subdirectory swapped for a symlink while the tree is chown-ed is not followed (chown-race)', async (ctx) => {
    need(ctx, root);
    const top = `/var/lib/xcr${suffix}`;
    const victim = victimDir();
    const aside = join(tmp('aside-'), 's');
    clean.push(top, aside);
    fs.mkdirSync(top); // root's, so the walk runs (a first start, or the admin's restore)
    plantTree(top);
    const swapped = armSwap(top, aside, victim);
    const unit = await service('cr', `User=nobody\nStateDirectory=xcr${suffix}`);
    setupExecDirectories(unit, { uid: NOBODY, gid: NOBODY }, () => undefined);
    expect(swapped()).toBe(true);
    expectVictimIntact(victim);
    expect(fs.statSync(top).uid).toBe(NOBODY);
  });

  it('a tree that already belongs to User= is not walked at all (execdir-walk)', async (ctx) => {
    need(ctx, root);
    const top = `/var/lib/xwalk${suffix}`;
    clean.push(top);
    fs.mkdirSync(top);
    plantTree(top);
    fs.writeFileSync(join(top, 'rootfile'), '');
    fs.chownSync(top, NOBODY, NOBODY);
    const unit = await service('walk', `User=nobody\nStateDirectory=xwalk${suffix}`);
    inject.readdirs = 0;
    setupExecDirectories(unit, { uid: NOBODY, gid: NOBODY }, () => undefined);
    expect(inject.readdirs).toBe(0);
    expect(fs.statSync(join(top, 'rootfile')).uid).toBe(0);
    expect(fs.statSync(join(top, 's/x')).uid).toBe(0);
  });
});

describe('removal at the end of a run never deletes through a swapped symlink', () => {
  it('RuntimeDirectory= (rimraf-race)', async (ctx) => {
    need(ctx, root);
    const top = `/run/xrr${suffix}`;
    const victim = victimDir();
    const aside = join(tmp('aside-'), 's');
    clean.push(top, aside);
    const unit = await service('rr', `User=nobody\nRuntimeDirectory=xrr${suffix}`);
    setupExecDirectories(unit, { uid: NOBODY, gid: NOBODY }, () => undefined);
    plantTree(top);
    const swapped = armSwap(top, aside, victim);
    removeRuntimeDirectories(unit);
    expect(swapped()).toBe(true);
    expect(fs.existsSync(top)).toBe(false);
    expectVictimIntact(victim);
  });

  it('PrivateTmp= directories', (ctx) => {
    need(ctx, root);
    const victim = victimDir();
    const aside = join(tmp('aside-'), 's');
    clean.push(aside);
    const pt = createPrivateTmp(`xpt${suffix}.service`);
    const tops = [join(pt.tmp, '..'), join(pt.varTmp, '..')];
    clean.push(...tops);
    plantTree(pt.tmp);
    const swapped = armSwap(pt.tmp, aside, victim);
    pt.remove();
    expect(swapped()).toBe(true);
    for (const t of tops) expect(fs.existsSync(t)).toBe(false);
    expectVictimIntact(victim);
  });
});
