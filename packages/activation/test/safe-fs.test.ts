/**
 * safe-fs: the chown walk and rm -rf of trees a service user can write never reach a file outside the
 * tree through a symlink, also when the user swaps a subdirectory for a symlink during the walk. The
 * swaps are injected at the walk's own step (onEntry: after the directory was listed, before the entry
 * is opened; and after an entered directory was listed), so each test is deterministic.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chownTree, removeTree } from '../src/safe-fs.js';
import { need, root } from './helpers/capability.js';
import { tmp } from './helpers/run.js';

const NOBODY = 65534;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A root-owned 0700 victim directory with 0600 files (stands for /etc), and the tree the user owns. */
function setup(): { base: string; victim: string; tree: string } {
  const base = tmp('safe-fs-');
  dirs.push(base);
  const victim = join(base, 'victim');
  mkdirSync(victim, 0o700);
  for (const f of ['a', 'b']) writeFileSync(join(victim, f), 'secret', { mode: 0o600 });
  const tree = join(base, 'tree');
  mkdirSync(join(tree, 's/deep'), { recursive: true });
  writeFileSync(join(tree, 's/x'), '');
  writeFileSync(join(tree, 's/deep/y'), '');
  writeFileSync(join(tree, 'top'), '');
  return { base, victim, tree };
}

/** What a service user does: move the directory `dir` to `aside` and put a symlink to `target` in its place. */
function swapForSymlink(dir: string, aside: string, target: string): void {
  renameSync(dir, aside);
  symlinkSync(target, dir);
}

function victimIntact(victim: string): void {
  expect(readdirSync(victim).sort()).toEqual(['a', 'b']);
  for (const p of [victim, join(victim, 'a'), join(victim, 'b')]) {
    const st = statSync(p);
    expect([st.uid, st.gid]).toEqual([0, 0]);
  }
  expect(statSync(victim).mode & 0o7777).toBe(0o700);
  expect(statSync(join(victim, 'a')).mode & 0o7777).toBe(0o600);
}

describe('chownTree', () => {
  it('changes the whole tree, symlinks themselves, never their targets', (ctx) => {
    need(ctx, root);
    const { victim, tree } = setup();
    symlinkSync(victim, join(tree, 'linkdir'));
    symlinkSync(join(victim, 'a'), join(tree, 's/linkfile'));
    chmodSync(join(tree, 'top'), 0o4755); // set-uid survives the chown (mode restored)
    expect(chownTree(tree, NOBODY, NOBODY)).toBe(true);
    for (const p of ['', 's', 's/x', 's/deep', 's/deep/y', 'top', 'linkdir', 's/linkfile']) {
      const st = lstatSync(join(tree, p));
      expect([p, st.uid, st.gid]).toEqual([p, NOBODY, NOBODY]);
    }
    expect(statSync(join(tree, 'top')).mode & 0o7777).toBe(0o4755);
    victimIntact(victim);
  });

  it('does not descend when the top already has the owner (a root file inside stays root)', (ctx) => {
    need(ctx, root);
    const { tree } = setup();
    chownSync(tree, NOBODY, NOBODY);
    expect(chownTree(tree, NOBODY, NOBODY)).toBe(false);
    expect(statSync(join(tree, 'top')).uid).toBe(0);
    expect(statSync(join(tree, 's')).uid).toBe(0);
  });

  it('descends when the top has mode bits outside the mask', (ctx) => {
    need(ctx, root);
    const { tree } = setup();
    chownSync(tree, NOBODY, NOBODY);
    chmodSync(tree, 0o1777);
    expect(chownTree(tree, NOBODY, NOBODY, 0o777)).toBe(true);
    expect(statSync(tree).mode & 0o7777).toBe(0o777);
    expect(statSync(join(tree, 'top')).uid).toBe(NOBODY);
  });

  it('refuses a top that is a symlink (ENOTDIR) and leaves its target alone', (ctx) => {
    need(ctx, root);
    const { base, victim } = setup();
    symlinkSync(victim, join(base, 'l'));
    expect(() => chownTree(join(base, 'l'), NOBODY, NOBODY)).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
    victimIntact(victim);
  });

  it('a subdirectory swapped for a symlink between listing and entering it is not followed', (ctx) => {
    need(ctx, root);
    const { base, victim, tree } = setup();
    let swapped = 0;
    chownTree(tree, NOBODY, NOBODY, 0o7777, {
      onEntry: (_dir, name) => {
        if (name === 's') {
          swapForSymlink(join(tree, 's'), join(base, 'aside'), victim);
          swapped++;
        }
      },
    });
    expect(swapped).toBe(1);
    expect(lstatSync(join(tree, 's')).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(tree, 's')).uid).toBe(NOBODY); // the link itself
    expect(statSync(join(base, 'aside/x')).uid).toBe(0); // moved out of the tree before it was entered
    victimIntact(victim);
  });

  it('a directory swapped for a symlink after it was entered: the walk stays in the real one', (ctx) => {
    need(ctx, root);
    const { base, victim, tree } = setup();
    let swapped = 0;
    chownTree(tree, NOBODY, NOBODY, 0o7777, {
      onEntry: (dir, name) => {
        if (dir.endsWith('/s') && name === 'deep') {
          swapForSymlink(join(tree, 's'), join(base, 'aside'), victim);
          swapped++;
        }
      },
    });
    expect(swapped).toBe(1);
    expect(statSync(join(base, 'aside/deep/y')).uid).toBe(NOBODY);
    victimIntact(victim);
  });
});

describe('removeTree', () => {
  it('removes the tree and the symlinks in it, never what they point to', (ctx) => {
    need(ctx, root);
    const { base, victim, tree } = setup();
    symlinkSync(victim, join(tree, 'linkdir'));
    symlinkSync(join(victim, 'a'), join(tree, 's/linkfile'));
    removeTree(tree);
    expect(existsSync(tree)).toBe(false);
    expect(readdirSync(base)).toEqual(['victim']);
    victimIntact(victim);
  });

  it('a top that is a symlink is unlinked; a missing path is fine', (ctx) => {
    need(ctx, root);
    const { base, victim } = setup();
    symlinkSync(victim, join(base, 'l'));
    removeTree(join(base, 'l'));
    expect(existsSync(join(base, 'l'))).toBe(false);
    removeTree(join(base, 'missing'));
    victimIntact(victim);
  });

  it('a subdirectory swapped for a symlink between listing and entering it is only unlinked', (ctx) => {
    need(ctx, root);
    const { base, victim, tree } = setup();
    let swapped = 0;
    removeTree(tree, {
      onEntry: (_dir, name) => {
        if (name === 's') {
          swapForSymlink(join(tree, 's'), join(base, 'aside'), victim);
          swapped++;
        }
      },
    });
    expect(swapped).toBe(1);
    expect(existsSync(tree)).toBe(false);
    // moved out of the tree before it was entered: not touched
    expect(readdirSync(join(base, 'aside')).sort()).toEqual(['deep', 'x']);
    victimIntact(victim);
  });

  it('a directory swapped for a symlink after it was entered: its contents go, the link is unlinked', (ctx) => {
    need(ctx, root);
    const { base, victim, tree } = setup();
    let swapped = 0;
    removeTree(tree, {
      onEntry: (dir, name) => {
        if (dir.endsWith('/s') && name === 'deep') {
          swapForSymlink(join(tree, 's'), join(base, 'aside'), victim);
          swapped++;
        }
      },
    });
    expect(swapped).toBe(1);
    expect(existsSync(tree)).toBe(false);
    // entered before the move: emptied through its fd, wherever it is now
    expect(readdirSync(join(base, 'aside'))).toEqual([]);
    victimIntact(victim);
  });
});
