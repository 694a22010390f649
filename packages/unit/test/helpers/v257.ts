/**
 * The systemd 257 recording (test/fixtures/v257/, made by scripts/record-257.mjs) and our verify()
 * run the same way, for the conformance and differential tests.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostic, staticInterfaceResolver, verify } from '../../src/index.js';

export const V257_DIR = new URL('../fixtures/v257/', import.meta.url).pathname;

export interface Recorded {
  strict: { rc: number; lines: string[] };
  default: { rc: number; lines?: string[] };
}

export interface Recording {
  recordedWith: string;
  cases: Record<string, Record<string, Recorded>>;
}

export function loadRecording(): Recording {
  return JSON.parse(readFileSync(join(V257_DIR, 'expected.json'), 'utf8')) as Recording;
}

/** The executables the recording machine had (ExecStart= checks), so results do not depend on this one. */
const EXECUTABLES = new Set([
  '/bin/true',
  '/bin/false',
  '/bin/cat',
  '/bin/echo',
  '/bin/sh',
  '/usr/bin/true',
  '/usr/bin/env',
]);
export const recordedExecutables = (p: string): string | undefined =>
  EXECUTABLES.has(p) ? undefined : p === '/etc/passwd' || p === '/etc' || p === '/tmp' ? 'EACCES' : 'ENOENT';

export interface Ours {
  /** Lines as `oracle.sh verify` prints them, the case directory written `{DIR}`. */
  lines: string[];
  /** rc with --recursive-errors=no (strict) and without the option (default). */
  strict: number;
  default: number;
}

/** verify() on `dir/file` with the options that mirror the recording. */
export function ours(
  dir: string,
  file: string,
  executables: boolean | ((p: string) => string | undefined) = recordedExecutables,
): Ours {
  const options = {
    searchPaths: [dir],
    liteWarnings: false,
    interfaces: staticInterfaceResolver({ lo: 1 }),
    executables,
  };
  const strict = verify([join(dir, file)], { ...options, recursiveErrors: 'no' });
  const dflt = verify([join(dir, file)], options);
  return {
    lines: strict.diagnostics.map((d) => formatDiagnostic(d).split(`${dir}/`).join('{DIR}/')),
    strict: strict.strictFailed ? 1 : 0,
    default: dflt.failed ? 1 : 0,
  };
}
