/**
 * A fresh npm project outside the workspace, installed from tarballs with plain npm, with a PATH that holds
 * node, npm, npx and sh only — no compiler, no make, no python, no pnpm.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface Project {
  dir: string;
  /** The PATH every command in the project runs with. */
  path: string;
  run(cmd: string, args: string[], options?: { input?: string; env?: Record<string, string> }): Run;
  /** Runs and throws with the output when the exit status is not 0. */
  ok(cmd: string, args: string[], options?: { input?: string; env?: Record<string, string> }): string;
}

function which(cmd: string): string {
  return realpathSync(execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim());
}

/** A bin directory with only node, npm, npx and sh, so that `g++`, `cc`, `make` and `python3` are not found. */
export function bareBin(dir: string): string {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(process.execPath, path.join(bin, 'node'));
  const npmCli = which('npm');
  symlinkSync(npmCli, path.join(bin, 'npm'));
  symlinkSync(path.join(path.dirname(npmCli), 'npx-cli.js'), path.join(bin, 'npx'));
  symlinkSync(which('sh'), path.join(bin, 'sh'));
  return bin;
}

export function createProject(dir: string, bin: string, manifest: Record<string, unknown>): Project {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: path.basename(dir), private: true, ...manifest }, null, 2),
  );
  const env = (extra?: Record<string, string>): NodeJS.ProcessEnv => {
    const e: NodeJS.ProcessEnv = { ...process.env, PATH: bin, npm_config_update_notifier: 'false', ...extra };
    // Nothing from the workspace may leak in: no pnpm/turbo/vitest variables, no NODE_OPTIONS loaders.
    for (const k of Object.keys(e))
      if (/^(npm_(?!config_(cache|registry|update_notifier))|PNPM_|TURBO_|VITEST|NODE_OPTIONS$)/i.test(k)) delete e[k];
    delete e['INIT_CWD'];
    return e;
  };
  const run: Project['run'] = (cmd, args, options = {}) => {
    const r = spawnSync(cmd, args, {
      cwd: dir,
      env: env(options.env),
      encoding: 'utf8',
      input: options.input ?? '',
      maxBuffer: 64 << 20,
    });
    if (r.error) throw r.error;
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  return {
    dir,
    path: bin,
    run,
    ok(cmd, args, options) {
      const r = run(cmd, args, options);
      if (r.status !== 0)
        throw new Error(`${cmd} ${args.join(' ')} exited ${r.status} in ${dir}\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    },
  };
}
