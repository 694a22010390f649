/**
 * PrivateTmp=yes as systemd 257 sets it up (setup_tmp_dirs()): per run of a unit, a directory
 * `/tmp/systemd-private-<boot id>-<unit>-XXXXXX` (0700) holding `tmp` (1777), and the same under
 * /var/tmp; every process of the run (ExecStartPre= … ExecStopPost=) gets them on /tmp and /var/tmp
 * in its own mount namespace (@mptcp/native's spawnProcess `privateTmp`), and they are removed when
 * the run ends (safe-fs.ts removeTree(): never through a symlink planted in them). systemd's name is
 * kept on purpose: systemd-tmpfiles' tmp.conf excludes `systemd-private-%b-*` from its age-based
 * cleaning. PrivateTmp=disconnected (a tmpfs each) is not applied: sandbox.ts refuses it.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ServiceUnit, parseBoolean } from '@mptcp/unit';
import { removeTree } from './safe-fs.js';

export interface PrivateTmp {
  tmp: string;
  varTmp: string;
  /** Removes both trees (idempotent). */
  remove(): void;
}

let bootId: string | undefined;
function bootIdHex(): string {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replaceAll('-', '');
    } catch {
      bootId = '0'.repeat(32);
    }
  }
  return bootId;
}

/** Whether the unit's effective PrivateTmp= is `yes` (a boolean true; the last assignment wins). */
export function wantsPrivateTmp(unit: ServiceUnit): boolean {
  const extra: Readonly<Record<string, string[]>> | undefined = unit.extra;
  const last = extra?.['PrivateTmp']?.at(-1);
  if (last === undefined) return false;
  const r = parseBoolean(last);
  return r.ok && r.value;
}

function makeOne(root: string, unitName: string): string {
  const top = mkdtempSync(join(root, `systemd-private-${bootIdHex()}-${unitName}-`));
  chmodSync(top, 0o700);
  const inner = join(top, 'tmp');
  mkdirSync(inner);
  chmodSync(inner, 0o1777); // mkdir() applies the umask
  return top;
}

/** Creates the run's two directories (throws the fs error when it cannot). */
export function createPrivateTmp(unitName: string): PrivateTmp {
  const tmpTop = makeOne('/tmp', unitName);
  let varTop: string;
  try {
    varTop = makeOne('/var/tmp', unitName);
  } catch (err) {
    removeTree(tmpTop);
    throw err;
  }
  let removed = false;
  return {
    tmp: join(tmpTop, 'tmp'),
    varTmp: join(varTop, 'tmp'),
    remove: () => {
      if (removed) return;
      removed = true;
      // The service's world-writable /tmp: anybody may have swapped a directory for a symlink in it,
      // so an fd-based rm -rf that never follows one (257 rm_rf()); both trees are tried.
      let first: unknown;
      for (const top of [tmpTop, varTop]) {
        try {
          removeTree(top);
        } catch (err) {
          first ??= err;
        }
      }
      if (first !== undefined) throw first;
    },
  };
}
