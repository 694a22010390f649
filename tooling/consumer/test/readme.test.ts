/**
 * Docs that run: every fenced block whose info string carries the word `test` (```` ```js test ````,
 * ```` ```sh test ````) in the root README and every package README is executed, as written:
 * - `js`/`mjs`: saved as an ES module in the README's own directory (so `@mptcp/…` imports resolve as they
 *   do for a user of that package) and run with node;
 * - `sh`/`bash`: run with `bash -e -o pipefail` from the repository root, with `mptcpd-lite` on PATH
 *   (as it is when installed).
 * A block passes when it exits 0. Blocks that need MPTCP skip without it (a failure under CI=true).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/packages.js';

interface Block {
  readme: string;
  line: number;
  lang: string;
  code: string;
}

const onCI = process.env['CI'] === 'true';

function readmes(): string[] {
  const out = [path.join(repoRoot, 'README.md')];
  for (const group of ['packages', 'apps', 'tooling']) {
    for (const entry of readdirSync(path.join(repoRoot, group)).sort()) {
      const f = path.join(repoRoot, group, entry, 'README.md');
      if (existsSync(f)) out.push(f);
    }
  }
  return out;
}

/** The fenced blocks marked `test`, with the line their fence opens on. */
function runnableBlocks(file: string): Block[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})\s*([\w-]+)((?:\s+[\w-]+)*)\s*$/.exec(lines[i] ?? '');
    if (!open) continue;
    const fence = open[1] ?? '```';
    let j = i + 1;
    while (j < lines.length && !(lines[j] ?? '').startsWith(fence)) j++;
    const words = (open[3] ?? '').trim().split(/\s+/);
    if (words.includes('test'))
      blocks.push({ readme: file, line: i + 1, lang: open[2] ?? '', code: lines.slice(i + 1, j).join('\n') });
    i = j;
  }
  return blocks;
}

const bin = mkdtempSync(path.join(os.tmpdir(), 'mptcp-readme-bin-'));
symlinkSync(path.join(repoRoot, 'apps', 'mptcpd-lite', 'dist', 'cli.js'), path.join(bin, 'mptcpd-lite'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

function mptcpMissing(): string | undefined {
  const r = spawnSync('python3', ['-c', 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)']);
  return r.status === 0 ? undefined : 'MPTCP sockets unavailable (socket(AF_INET, SOCK_STREAM, 262) failed)';
}

function run(block: Block): { status: number | null; out: string } {
  const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env['PATH'] ?? ''}` };
  if (block.lang === 'js' || block.lang === 'mjs') {
    const file = path.join(path.dirname(block.readme), `.readme-test-${process.pid}-${block.line}.mjs`);
    writeFileSync(file, block.code + '\n');
    try {
      const r = spawnSync(process.execPath, [file], {
        cwd: path.dirname(block.readme),
        env,
        encoding: 'utf8',
        timeout: 120_000,
      });
      return { status: r.status, out: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
    } finally {
      rmSync(file, { force: true });
    }
  }
  if (block.lang === 'sh' || block.lang === 'bash') {
    const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', block.code], {
      cwd: repoRoot,
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
  }
  throw new Error(`${block.readme}:${block.line}: a block marked test must be js, mjs, sh or bash, not ${block.lang}`);
}

const blocks = readmes().flatMap(runnableBlocks);
const noMptcp = mptcpMissing();
if (noMptcp && onCI) throw new Error(`required capability missing on CI: ${noMptcp}`);
if (noMptcp) console.warn(`skipping the README blocks: ${noMptcp}`);

describe('README blocks marked test', () => {
  it('there are runnable blocks (root README, constants, native)', () => {
    const where = new Set(blocks.map((b) => path.relative(repoRoot, b.readme)));
    expect([...where]).toEqual(
      expect.arrayContaining(['README.md', 'packages/constants/README.md', 'packages/native/README.md']),
    );
  });

  it
    .skipIf(noMptcp !== undefined)
    .each(blocks.map((b) => [`${path.relative(repoRoot, b.readme)}:${b.line} (${b.lang})`, b] as const))(
    '%s runs as written',
    (_name, block) => {
      const r = run(block);
      expect(r.status, `${block.readme}:${block.line} exited ${r.status}\n${r.out}`).toBe(0);
    },
  );
});
