import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadUnitDirectories, loadUnitFile } from '../src/loader.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'unit-read-'));
  roots.push(d);
  return d;
}

// The main unit file is opened once: its fstat() tells a mask (empty, /dev/null) from a unit and
// from what is not a regular file, which must neither block nor be read.
describe('loadUnitFile: masks and files that are not regular', () => {
  it('an empty file and a link to /dev/null are masked', () => {
    const d = dir();
    writeFileSync(join(d, 'empty.service'), '');
    symlinkSync('/dev/null', join(d, 'null.service'));
    for (const f of ['empty.service', 'null.service']) {
      const r = loadUnitFile(join(d, f));
      expect(r.masked).toBe(true);
      expect(r.code).toBe('ERFKILL');
      expect(r.diagnostics.map((x) => x.message)).toEqual([`Unit ${f} is masked.`]);
    }
  });

  it('a link to another character device, a FIFO and a directory fail to load, unread', () => {
    const d = dir();
    symlinkSync('/dev/zero', join(d, 'zero.service'));
    execFileSync('mkfifo', [join(d, 'fifo.service')]);
    mkdirSync(join(d, 'dir.service'));
    const code = (f: string): string[] => loadUnitFile(join(d, f)).diagnostics.map((x) => x.message);
    expect(code('zero.service')).toEqual(['Failed to load configuration: EBADFD']);
    expect(code('fifo.service')).toEqual(['Failed to load configuration: EBADFD']);
    expect(code('dir.service')).toEqual(['Failed to load configuration: EISDIR']);
    expect(loadUnitFile(join(d, 'missing.service')).diagnostics.map((x) => x.message)).toEqual([
      'Failed to load configuration: ENOENT',
    ]);
  });

  it('an invalid unit name is reported before a read error', () => {
    const d = dir();
    const r = loadUnitFile(join(d, 'nope.txt'));
    expect(r.fatal).toBe(true);
    expect(r.diagnostics.map((x) => x.message)).toEqual([
      'Unit name is not a valid .socket or .service unit name: nope.txt',
    ]);
  });

  it('reads the whole file, drop-ins applied after it', () => {
    const d = dir();
    const long = `[Service]\nExecStart=/bin/true${' x'.repeat(40_000)}\n`;
    writeFileSync(join(d, 'big.service'), long);
    mkdirSync(join(d, 'big.service.d'));
    writeFileSync(join(d, 'big.service.d', 'a.conf'), '[Service]\nRestart=always\n');
    const r = loadUnitDirectories([d]);
    expect(r.failed).toEqual([]);
    const svc = r.services[0]!;
    expect(svc.execStart[0]?.argv).toHaveLength(40_001);
    expect(svc.restart).toBe('always');
    expect(svc.dropIns).toEqual([join(d, 'big.service.d', 'a.conf')]);
  });
});

// loadUnitDirectories() reads files readdir() reported as regular without an fstat (a shared
// scratch buffer, grown copies for big files), and checks each executable once per load.
describe('loadUnitDirectories: files read without fstat', () => {
  it('empty regular files are masked, units of every size load, one after another', () => {
    const d = dir();
    writeFileSync(join(d, 'a-empty.socket'), '');
    writeFileSync(join(d, 'a-empty@.service'), '');
    // sizes around the 64 KiB scratch buffer and a multiple of it: a short read ends each file
    for (const [i, size] of [64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 128 * 1024, 300].entries()) {
      const head = `[Socket]\nListenStream=127.0.0.1:${1000 + i}\n#`;
      writeFileSync(join(d, `b${i}.socket`), head + 'x'.repeat(size - head.length - 1) + '\n');
      writeFileSync(join(d, `b${i}.service`), '[Service]\nExecStart=/bin/true\n');
    }
    const r = loadUnitDirectories([d]);
    expect(r.masked.sort()).toEqual(['a-empty.socket', 'a-empty@.service']);
    expect(r.failed).toEqual([]);
    expect(r.sockets.map((s) => [s.name, s.listen[0]?.value])).toEqual([
      ['b0.socket', '127.0.0.1:1000'],
      ['b1.socket', '127.0.0.1:1001'],
      ['b2.socket', '127.0.0.1:1002'],
      ['b3.socket', '127.0.0.1:1003'],
      ['b4.socket', '127.0.0.1:1004'],
    ]);
  });

  it('a regular file larger than 64 MiB - 1 fails with EFBIG, unparsed', () => {
    const d = dir();
    writeFileSync(join(d, 'huge.service'), Buffer.alloc(64 * 1024 * 1024, 0x23 /* # */));
    writeFileSync(join(d, 'ok.service'), '[Service]\nExecStart=/bin/true\n');
    const r = loadUnitDirectories([d]);
    expect(r.failed.map((f) => [f.name, f.diagnostics.map((x) => x.message)])).toEqual([
      ['huge.service', ['Failed to load configuration: EFBIG']],
    ]);
    expect(r.services.map((s) => s.name)).toEqual(['ok.service']);
  });

  it('every unit naming a missing binary is told so (the check is remembered per load)', () => {
    const d = dir();
    for (const n of ['x', 'y']) writeFileSync(join(d, `${n}.service`), '[Service]\nExecStart=/nonexistent/bin\n');
    const r = loadUnitDirectories([d]);
    expect(r.diagnostics.map((x) => `${x.unit}: ${x.message}`)).toEqual([
      'x.service: Command /nonexistent/bin is not executable: No such file or directory',
      'y.service: Command /nonexistent/bin is not executable: No such file or directory',
    ]);
    // a load after the binary appears sees it
    mkdirSync(join(d, 'bin'));
    writeFileSync(join(d, 'bin', 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(d, 'x.service'), `[Service]\nExecStart=${join(d, 'bin', 'tool')}\n`);
    writeFileSync(join(d, 'y.service'), `[Service]\nExecStart=${join(d, 'bin', 'tool')}\n`);
    expect(loadUnitDirectories([d]).diagnostics).toEqual([]);
  });
});

describe('loadUnitDirectories: files the fast splitter does not take', () => {
  it('CRLF, invalid UTF-8 and a NUL are parsed by the general splitter, as by loadUnitFile()', () => {
    const d = dir();
    writeFileSync(join(d, 'crlf.socket'), '[Socket]\r\nListenStream=127.0.0.1:81\r\n');
    writeFileSync(
      join(d, 'bad.socket'),
      Buffer.concat([
        Buffer.from('[Socket]\nListenStream=127.0.0.1:82\nBacklog=1'),
        Buffer.from([0xff]),
        Buffer.from('\n'),
      ]),
    );
    writeFileSync(join(d, 'nul.socket'), '[Socket]\nListenStream=127.0.0.1:83\0Backlog=7\n');
    const r = loadUnitDirectories([d]);
    const byName = (n: string) => r.sockets.find((s) => s.name === n);
    expect(byName('crlf.socket')?.listen[0]?.value).toBe('127.0.0.1:81');
    expect(byName('nul.socket')?.backlog).toBe(7);
    expect(r.failed.map((f) => [f.name, f.diagnostics.map((x) => `${x.line ?? ''}: ${x.message}`)])).toEqual([
      ['bad.socket', ['3: String is not UTF-8 clean, ignoring assignment: Backlog=1\uFFFD']],
    ]);
    for (const f of ['crlf.socket', 'bad.socket', 'nul.socket'])
      expect(loadUnitFile(join(d, f)).diagnostics).toEqual(r.diagnostics.filter((x) => x.file === join(d, f)));
  });
});

describe('loadUnitDirectories: readFiles (a directory read ahead in one call)', () => {
  function tree(): string[] {
    const a = dir();
    const b = dir();
    writeFileSync(join(a, 'web.socket'), '[Socket]\nListenStream=127.0.0.1:8080\nAccept=yes\n');
    writeFileSync(join(a, 'web@.service'), '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n');
    writeFileSync(join(a, 'plain.service'), '[Service]\r\nExecStart=/bin/true\r\n# caf\xe9\n');
    writeFileSync(join(a, 'bytes.service'), Buffer.from('[Service]\nExecStart=/bin/true\n# \xff\xfe\n', 'latin1'));
    writeFileSync(join(a, 'empty.socket'), '');
    symlinkSync('/dev/null', join(a, 'nulled.service'));
    symlinkSync(join(a, 'plain.service'), join(a, 'alias.service'));
    const head = '[Socket]\nListenStream=127.0.0.1:9000\n#';
    writeFileSync(join(a, 'big.socket'), head + 'x'.repeat(64 * 1024 + 1 - head.length - 1) + '\n');
    mkdirSync(join(a, 'web.socket.d'));
    writeFileSync(join(a, 'web.socket.d', 'x.conf'), '[Socket]\nBacklog=7\n');
    // b: a name a already has (not loaded again) and one of its own
    writeFileSync(join(b, 'web.socket'), '[Socket]\nListenStream=127.0.0.1:1\n');
    writeFileSync(join(b, 'other.socket'), '[Socket]\nListenStream=127.0.0.1:8081\n');
    return [a, b];
  }
  const read = (p: string): Buffer => execFileSync('cat', [p]);

  it('loads exactly what the file-by-file read loads; asks only for regular files not loaded yet', () => {
    const dirs = tree();
    const plain = loadUnitDirectories(dirs, { readTemplates: true });
    const asked: string[][] = [];
    const ahead = loadUnitDirectories(dirs, {
      readTemplates: true,
      readFiles: (paths, max) => {
        expect(max).toBe(64 * 1024);
        asked.push(paths.map((p) => p.slice(p.lastIndexOf('/') + 1)));
        // what a reader gives: the bytes, or undefined (empty, too big) for the loader to read
        return paths.map((p) => {
          const b = read(p);
          return b.length === 0 || b.length > max ? undefined : b;
        });
      },
    });
    expect(ahead).toEqual(plain);
    expect(asked).toEqual([
      ['big.socket', 'bytes.service', 'empty.socket', 'plain.service', 'web.socket', 'web@.service'],
      ['other.socket'],
    ]);
    expect(ahead.sockets.find((s) => s.name === 'web.socket')?.backlog).toBe(7);
    expect(ahead.templateTexts?.get('web@.service')).toContain('ExecStart=/bin/cat');
  });

  it('a reader that cannot (undefined) or that fails for some files changes nothing', () => {
    const dirs = tree();
    const plain = loadUnitDirectories(dirs, { readTemplates: true });
    expect(loadUnitDirectories(dirs, { readTemplates: true, readFiles: () => undefined })).toEqual(plain);
    expect(
      loadUnitDirectories(dirs, {
        readTemplates: true,
        readFiles: (paths) => paths.map((p, i) => (i % 2 === 0 ? undefined : read(p))),
      }),
    ).toEqual(plain);
  });
});
