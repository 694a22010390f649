import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, loadUnitFile, parseUnitName } from '../src/index.js';

function walk(dir: string, out: string[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const f of names) {
    const p = join(dir, f);
    let isDir = false;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      continue;
    }
    if (isDir) walk(p, out);
    else if (/\.(socket|service)$/.test(f)) out.push(p);
  }
  return out;
}

describe('every .socket/.service unit on this machine', () => {
  it('parses without an exception', () => {
    const files = [...walk('/usr/lib/systemd'), ...walk('/etc/systemd')];
    let loaded = 0;
    let templates = 0;
    let masked = 0;
    const failed: string[] = [];
    const warnings: string[] = [];
    const exceptions: string[] = [];
    for (const f of files) {
      const name = basename(f);
      const n = parseUnitName(name);
      // Templates are parsed as an instance, like systemd-analyze verify does with "internal".
      const asName = n?.template ? name.replace('@.', '@internal.') : name;
      if (n?.template) templates++;
      try {
        const r = loadUnitFile(f, { name: asName, searchPaths: [dirname(f)], executables: false });
        if (r.masked) masked++;
        else if (r.unit) loaded++;
        else failed.push(`${f}: ${r.diagnostics.map(formatDiagnostic).join(' | ')}`);
        for (const d of r.diagnostics) if (d.severity === 'warning') warnings.push(formatDiagnostic(d));
      } catch (e) {
        exceptions.push(`${f}: ${(e as Error).stack ?? String(e)}`);
      }
    }
    console.log(
      `system units: ${files.length} files, ${loaded} loaded (${templates} templates as @internal), ${masked} masked, ${failed.length} refused, ${exceptions.length} exceptions, ${warnings.length} warnings`,
    );
    for (const w of warnings) console.log(`  warning: ${w}`);
    for (const f of failed) console.log(`  refused: ${f}`);
    expect(exceptions).toEqual([]);
    if (files.length > 0) expect(loaded).toBeGreaterThanOrEqual(Math.min(50, Math.floor(files.length * 0.8)));
  });
});
