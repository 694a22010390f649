/**
 * The search-path listing (one readdir per search path per load) finds exactly the drop-ins a
 * directory-by-directory lookup finds, and loadUnitDirectories() treats regular files, aliases and
 * directories named like units as before.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findDropIns, loadUnitDirectories, searchPathListing } from '../src/index.js';

function tree(): { a: string; b: string } {
  const root = mkdtempSync(join(tmpdir(), 'unit-listing-'));
  const a = join(root, 'a');
  const b = join(root, 'b');
  const files: Record<string, string> = {
    'a/web-api@.service': '[Service]\nExecStart=/bin/true\n',
    'a/web-api@.service.d/10-a.conf': '[Service]\nEnvironment=A=1\n',
    'a/web-.service.d/20-dash.conf': '[Service]\nEnvironment=D=1\n',
    'b/service.d/30-all.conf': '[Service]\nEnvironment=T=1\n',
    'b/web-api@x.service.d/05-inst.conf': '[Service]\nEnvironment=I=1\n',
    'b/web-api@.service.d/10-a.conf': '[Service]\nEnvironment=MASKED=1\n',
    'a/s.socket': '[Socket]\nListenStream=127.0.0.1:9\n',
    'a/s.service': '[Service]\nExecStart=/bin/true\n',
    'a/other.conf': '',
  };
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), text);
  }
  // an alias and a directory named like a unit
  symlinkSync(join(a, 's.socket'), join(a, 'alias.socket'));
  mkdirSync(join(a, 'dir.service'));
  return { a, b };
}

describe('search path listing', () => {
  it('finds the same drop-ins as the per-directory lookup', () => {
    const { a, b } = tree();
    const paths = [a, b, join(a, 'missing')];
    const listing = searchPathListing();
    for (const name of [
      'web-api@.service',
      'web-api@x.service',
      'web-api@y.service',
      's.service',
      's.socket',
      'nothing.service',
    ]) {
      expect(findDropIns(name, paths, listing)).toEqual(findDropIns(name, paths));
    }
    expect(findDropIns('web-api@x.service', paths, listing).map((f) => f.slice(f.lastIndexOf('/') + 1))).toEqual([
      '05-inst.conf',
      '10-a.conf',
      '20-dash.conf',
      '30-all.conf',
    ]);
  });

  it('loadUnitDirectories: regular files, aliases and unit-named directories as before', () => {
    const { a, b } = tree();
    const r = loadUnitDirectories([a, b]);
    expect(r.sockets.map((u) => u.name)).toEqual(['s.socket']);
    expect(r.services.map((u) => u.name)).toEqual(['s.service']);
    expect(r.aliases.get('alias.socket')).toBe('s.socket');
    expect([...r.templates.keys()]).toEqual(['web-api@.service']);
    expect(r.failed).toEqual([]);
  });
});

describe('loadUnitDirectories({ readTemplates: true })', () => {
  it('gives each template text, masks as without it, and lists unreadable ones without text', () => {
    const root = mkdtempSync(join(tmpdir(), 'unit-templates-'));
    const a = join(root, 'a');
    const b = join(root, 'b');
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(join(a, 'web@.service'), '[Service]\nExecStart=/bin/true %i\n');
    writeFileSync(join(b, 'web@.service'), '[Service]\nExecStart=/bin/false\n'); // shadowed by a/
    writeFileSync(join(a, 'gone@.service'), ''); // masked: empty
    symlinkSync('/dev/null', join(a, 'null@.service')); // masked: /dev/null
    symlinkSync(join(a, 'web@.service'), join(b, 'link@.service')); // an alias of web@.service
    mkdirSync(join(root, 'elsewhere'));
    writeFileSync(join(root, 'elsewhere', 'other@.service'), '[Service]\nExecStart=/bin/true\n');
    symlinkSync(join(root, 'elsewhere', 'other@.service'), join(b, 'other@.service')); // read through the link
    symlinkSync(join(a, 'missing'), join(b, 'dangling@.service')); // unreadable
    writeFileSync(join(a, 's.socket'), '[Socket]\nListenStream=127.0.0.1:9\nAccept=yes\n');
    const plain = loadUnitDirectories([a, b]);
    const read = loadUnitDirectories([a, b], { readTemplates: true });
    expect(plain.templateTexts).toBeUndefined();
    expect(read.masked.sort()).toEqual(plain.masked.sort());
    expect(read.masked.sort()).toEqual(['gone@.service', 'null@.service']);
    expect([...read.templates].sort()).toEqual([...plain.templates].sort());
    expect(Object.fromEntries(read.templateTexts ?? [])).toEqual({
      'web@.service': '[Service]\nExecStart=/bin/true %i\n',
      'other@.service': '[Service]\nExecStart=/bin/true\n',
    });
    expect(read.aliases).toEqual(new Map([['link@.service', 'web@.service']]));
    expect(read.templates.has('dangling@.service')).toBe(true);
    expect(read.sockets.map((s) => s.name)).toEqual(['s.socket']);
  });
});
