/**
 * Templates with the same text in one directory (generated `portN@.service`) are parsed once per
 * load: the others get the probe unit with their own file. What an instance of each looks like must
 * be exactly what its own parse gives; a template with drop-ins, specifiers or diagnostics is
 * always parsed on its own.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseUnitText, searchPathListing } from '@mptcp/unit';
import { describe, expect, it } from 'vitest';
import { loadEngineUnits } from '../src/load-units.js';
import type { EngineUnits, ServiceTemplate } from '../src/engine-types.js';
import { type SnapshotCache, defaultTemplateResolver, isServiceUnit, snapshotTemplate } from '../src/templates.js';
import { unitDir } from './helpers/run.js';

const TEXTS = {
  bench: '[Service]\nExecStart=/bin/cat\nStandardInput=socket\nStandardOutput=socket\n',
  rich: [
    '[Unit]',
    'Description=echo service',
    'After=network.target',
    '[Service]',
    'Type=simple',
    'ExecStartPre=-/bin/true pre',
    'ExecStart=/bin/cat -u',
    'ExecStopPost=/bin/true',
    'Environment=A=1 "B=two words"',
    'WorkingDirectory=/tmp',
    'StandardInput=socket',
    'TimeoutStopSec=3',
    'KillMode=mixed',
    'LimitNOFILE=4096',
    '',
  ].join('\n'),
};

async function instanceOf(dir: string, name: string, shared: SnapshotCache, instance: string) {
  const file = join(dir, name);
  const snap = snapshotTemplate({ name, file, searchPaths: [dir] }, shared);
  return defaultTemplateResolver(snap, instance);
}

describe('template probes shared by text', () => {
  for (const [label, text] of Object.entries(TEXTS)) {
    it(`${label}: every template's instance equals its own parse`, async () => {
      const files: Record<string, string> = {};
      for (let i = 0; i < 4; i++) files[`p${i}@.service`] = text;
      const dir = unitDir(files);
      const shared: SnapshotCache = { listing: searchPathListing(), executables: new Map() };
      for (let i = 0; i < 4; i++) {
        const instance = `p${i}@7-127.0.0.1:80-127.0.0.1:5000.service`;
        const got = await instanceOf(dir, `p${i}@.service`, shared, instance);
        const own = parseUnitText(text, { file: join(dir, `p${i}@.service`), name: instance });
        expect(own.diagnostics).toEqual([]);
        expect(got).toEqual(own.unit);
        expect(got.file).toBe(join(dir, `p${i}@.service`));
      }
      expect(shared.probes?.size).toBe(1);
    });
  }

  it('a template with a warning, with specifiers or with a drop-in is parsed on its own', async () => {
    const dir = unitDir({
      'w0@.service': '[Service]\nExecStart=/bin/cat\nNoSuchKey=1\n',
      'w1@.service': '[Service]\nExecStart=/bin/cat\nNoSuchKey=1\n',
      's0@.service': '[Service]\nExecStart=/bin/echo %i\n',
      's1@.service': '[Service]\nExecStart=/bin/echo %i\n',
      'd0@.service': '[Service]\nExecStart=/bin/cat\n',
      'd1@.service': '[Service]\nExecStart=/bin/cat\n',
    });
    mkdirSync(join(dir, 'd0@.service.d'));
    writeFileSync(join(dir, 'd0@.service.d', 'env.conf'), '[Service]\nEnvironment=X=1\n');
    const shared: SnapshotCache = { listing: searchPathListing(), executables: new Map() };
    for (const p of ['w0', 'w1', 's0', 's1']) await instanceOf(dir, `${p}@.service`, shared, `${p}@a.service`);
    expect(shared.probes?.size ?? 0).toBe(0);
    const s1 = await instanceOf(dir, 's1@.service', shared, 's1@abc.service');
    expect(s1.execStart[0]?.argv).toEqual(['/bin/echo', 'abc']);
    expect(s1.file).toBe(join(dir, 's1@.service'));
    const d0 = await instanceOf(dir, 'd0@.service', shared, 'd0@a.service');
    expect(d0.environment).toEqual([['X', '1']]);
    expect(shared.probes?.size ?? 0).toBe(0);
    const d1 = await instanceOf(dir, 'd1@.service', shared, 'd1@a.service');
    expect(d1.environment).toEqual([]);
    expect(d1.dropIns).toEqual([]);
    expect(shared.probes?.size).toBe(1);
  });
});

function templateNamed(units: EngineUnits, name: string): ServiceTemplate {
  const t = units.templates?.find((x) => x.name === name);
  if (!t || isServiceUnit(t)) throw new Error(`${name}: not loaded as a template file`);
  return t;
}

describe('template text from the loader', () => {
  it('loadEngineUnits() hands each template its text, and the snapshot does not read the file again', async () => {
    const dir = unitDir({ 'e@.service': TEXTS.bench, 'e.socket': '[Socket]\nListenStream=127.0.0.1:0\nAccept=yes\n' });
    const loaded = await loadEngineUnits([dir]);
    const t = templateNamed(loaded.units, 'e@.service');
    expect(t.loadedText).toBe(TEXTS.bench);
    rmSync(join(dir, 'e@.service'));
    const snap = snapshotTemplate(t, { listing: searchPathListing(), executables: new Map() });
    expect(snap.text).toBe(TEXTS.bench);
    expect(snap.loadedText).toBeUndefined();
  });

  it('a template the loader could not read (a FIFO) is read by the snapshot, which names the file', async () => {
    const dir = unitDir({});
    execFileSync('mkfifo', [join(dir, 'f@.service')]);
    const loaded = await loadEngineUnits([dir]);
    const t = templateNamed(loaded.units, 'f@.service');
    expect(t.loadedText).toBeUndefined();
    expect(() => snapshotTemplate(t, { listing: searchPathListing(), executables: new Map() })).toThrow(/f@\.service/);
  });
});
