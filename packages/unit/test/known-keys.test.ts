/** src/known-keys.ts is generated from systemd 257's directive table (scripts/generate-known-keys.mjs). */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { KEY_CHECKS, SOCKET_SECTION_KEYS } from '../src/known-keys.js';

const script = new URL('../scripts/generate-known-keys.mjs', import.meta.url).pathname;

describe('known-keys.ts', () => {
  it('is what scripts/generate-known-keys.mjs generates', () => {
    const r = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('derives the checks from the value types, with the overrides', () => {
    expect(SOCKET_SECTION_KEYS.has('SocketProtocol')).toBe(true);
    expect(KEY_CHECKS['Service']?.['RuntimeMaxSec']).toBe('sec');
    expect(KEY_CHECKS['Service']?.['DynamicUser']).toBe('bool!');
    expect(KEY_CHECKS['Service']?.['ExecSearchPath']).toBe('paths:');
    expect(KEY_CHECKS['Unit']?.['OnSuccessJobMode']).toBeUndefined();
  });
});
