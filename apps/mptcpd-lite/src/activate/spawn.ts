/**
 * Starting the activated program the way systemd-socket-activate does: environment rebuilt from
 * TERM/PATH/USER/HOME + LISTEN_* + -E; the fds at 3, 4, … (or on stdin/stdout for --inetd). Node
 * cannot exec in place, so LISTEN_PID is made right with `sh -c 'LISTEN_PID=$$; exec "$0" "$@"'`:
 * exec keeps the shell's PID, so LISTEN_PID is the program's own PID.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

export interface ChildSpec {
  argv: string[];
  fds: number[];
  inetd: boolean;
  fdNames?: string[] | undefined;
  setenv: string[];
  env?: NodeJS.ProcessEnv;
}

/** The child's environment (without LISTEN_PID, which the shell sets). */
export function childEnvironment(spec: ChildSpec): Record<string, string> {
  const parent = spec.env ?? process.env;
  const env: Record<string, string> = {};
  for (const k of ['TERM', 'PATH', 'USER', 'HOME']) {
    const v = parent[k];
    if (v !== undefined) env[k] = v;
  }
  if (!spec.inetd) {
    env.LISTEN_FDS = String(spec.fds.length);
    if (spec.fdNames && spec.fdNames.length > 0) {
      // One name is replicated to every fd (activate.c).
      const names = spec.fdNames.length === 1 ? spec.fds.map(() => spec.fdNames?.[0] ?? '') : spec.fdNames;
      env.LISTEN_FDNAMES = names.join(':');
    }
  }
  for (const e of spec.setenv) {
    const eq = e.indexOf('=');
    if (eq < 0) {
      const v = parent[e];
      if (v !== undefined) env[e] = v;
    } else env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return env;
}

export function spawnActivated(spec: ChildSpec): ChildProcess {
  const env = childEnvironment(spec);
  if (spec.inetd) {
    const fd = spec.fds[0] as number;
    return spawn(spec.argv[0] as string, spec.argv.slice(1), { env, stdio: [fd, fd, 'inherit'] });
  }
  const stdio: StdioOptions = ['inherit', 'inherit', 'inherit', ...spec.fds];
  return spawn('/bin/sh', ['-c', 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"', ...spec.argv], { env, stdio });
}
