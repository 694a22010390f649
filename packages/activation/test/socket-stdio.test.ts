/**
 * StandardOutput=socket / StandardError=socket without StandardInput=socket (systemd exec_invoke():
 * any of the three set makes the one connection fd socket_fd): the connection is not passed as
 * LISTEN_FDS, each stream is the connection as its own setting says (setup_input()/setup_output()),
 * stdin stays /dev/null unless StandardInput=socket, and StandardError unset dups stdout.
 * systemd 257 (`oracle.sh activate DIR w.socket`, ORACLE_DUMP=0, 2026-12-01): Accept=yes
 * `ExecStart=/usr/bin/id -un` + StandardOutput=socket → the client got b'root\n'; StandardError=socket
 * alone → the client got `fds=unset` and `/dev/null` (stdin); Accept=no + StandardOutput=socket: fd 1 is
 * the listening socket (`echo` fails with an I/O error), fd 0 /dev/null; `oracle.sh verify` rc=0 for all.
 */
import { userInfo } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { withStoredFds } from '../src/service-exec.js';
import type { LogFields, Logger } from '../src/logger.js';
import { python3, need } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { clientOnce, loopback, unitDir, waitFor } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

type Lines = Array<{ message: string; fields: LogFields | undefined }>;

function outputLogger(): Logger & { lines: Lines } {
  const lines: Lines = [];
  const keep = (message: string, fields?: LogFields): void => {
    lines.push({ message, fields });
  };
  return { lines, debug: keep, info: keep, warn: keep, error: keep };
}

/** An Accept=yes socket `name.socket` + `name@.service` with `service` lines; what the client read. */
async function serve(name: string, service: string): Promise<{ received: string; lines: Lines; started: number[] }> {
  const dir = unitDir({
    [`${name}.socket`]: `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
    [`${name}@.service`]: `[Service]\n${service}`,
  });
  const log = outputLogger();
  engine = new ActivationEngine({ logger: log, serviceOutput: 'log' });
  expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
  const started: number[] = [];
  engine.on('started', (e) => started.push(e.pid));
  const port = engine.socket(`${name}.socket`)?.listen[0]?.port as number;
  // Nothing sent (the client shuts its side down and reads): a service that never reads would
  // reset the connection on close with the client's bytes unread.
  const reply = await clientOnce(port, { tcp: true });
  await waitFor(() => engine?.socket(`${name}.socket`)?.connections === 0, 60_000, 'the instance to exit');
  return { received: reply.received, lines: log.lines, started };
}

const output = (lines: Lines): string[] => lines.filter((l) => l.fields?.output === true).map((l) => l.message);

describe('StandardOutput=/StandardError=socket without StandardInput=socket', () => {
  it('StandardOutput=socket: stdout and (StandardError unset) stderr are the connection, stdin /dev/null, no LISTEN_FDS', async (ctx) => {
    need(ctx, python3);
    const r = await serve(
      'so',
      'ExecStart=/bin/sh -c \'id -un; echo "fds=$${LISTEN_FDS-unset} pid=$${LISTEN_PID-unset}"; ' +
        "echo to-stderr >&2; readlink /proc/self/fd/0'\nStandardOutput=socket\n",
    );
    expect(r.received).toBe(`${userInfo().username}\nfds=unset pid=unset\nto-stderr\n/dev/null\n`);
    expect(output(r.lines)).toEqual([]);
  });

  it('the reproducer: ExecStart=/usr/bin/id -un with StandardOutput=socket answers the client', async (ctx) => {
    need(ctx, python3);
    const r = await serve('sid', 'ExecStart=/usr/bin/id -un\nStandardOutput=socket\n');
    expect(r.received).toBe(`${userInfo().username}\n`);
  });

  it('StandardOutput=socket, StandardError=journal: stdout to the client, stderr to the log', async (ctx) => {
    need(ctx, python3);
    const r = await serve(
      'soj',
      "ExecStart=/bin/sh -c 'echo to-client; echo to-log >&2'\nStandardOutput=socket\nStandardError=journal\n",
    );
    expect(r.received).toBe('to-client\n');
    const line = await waitFor(() => r.lines.find((l) => l.fields?.output === true), 60_000, 'the captured line');
    expect(line.message).toBe('to-log');
    expect(line.fields?.pid).toBe(r.started[0]);
  });

  it('StandardError=socket alone: stderr to the client, stdout (journal) to the log, stdin /dev/null, no LISTEN_FDS', async (ctx) => {
    need(ctx, python3);
    const r = await serve(
      'se',
      'ExecStart=/bin/sh -c \'echo to-log; echo "to-client fds=$${LISTEN_FDS-unset}" >&2; readlink /proc/self/fd/0 >&2\'\n' +
        'StandardError=socket\n',
    );
    expect(r.received).toBe('to-client fds=unset\n/dev/null\n');
    await waitFor(() => output(r.lines).length > 0, 60_000, 'the captured line');
    expect(output(r.lines)).toEqual(['to-log']);
  });

  it('Accept=no, StandardOutput=socket: stdout is the one listening socket, stdin /dev/null, no LISTEN_FDS (as 257)', async () => {
    const dir = unitDir({
      'n.socket': `[Socket]\nListenStream=${await loopback()}\n`,
      'n.service':
        '[Service]\nExecStart=/bin/sh -c \'readlink /proc/self/fd/0 /proc/self/fd/1 >&2; echo "fds=$${LISTEN_FDS-unset}" >&2\'\n' +
        'StandardOutput=socket\nStandardError=journal\n',
    });
    const log = outputLogger();
    engine = new ActivationEngine({ logger: log, serviceOutput: 'log' });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    await engine.startUnit('n.service');
    await waitFor(() => output(log.lines).length >= 3, 60_000, 'three captured lines');
    const [stdin, stdout, env] = output(log.lines);
    expect(stdin).toBe('/dev/null');
    expect(stdout).toMatch(/^socket:\[\d+\]$/);
    expect(env).toBe('fds=unset');
  });

  it('NonBlocking=yes: the connection as stdout is blocking all the same (exec_invoke() drops O_NONBLOCK)', async (ctx) => {
    need(ctx, python3);
    const r = await serve(
      'nb',
      'ExecStart=/bin/grep ^flags: /proc/self/fdinfo/1\nStandardOutput=socket\nNonBlocking=yes\n',
    );
    const flags = /^flags:\s+([0-7]+)$/m.exec(r.received);
    expect(flags, r.received).not.toBeNull();
    expect(Number.parseInt(flags?.[1] ?? '', 8) & 0o4000).toBe(0);
  });

  it('StandardInput=socket: stdin is still the connection', async (ctx) => {
    need(ctx, python3);
    const r = await serve('si', "ExecStart=/bin/sh -c 'readlink /proc/self/fd/0 | cut -c1-7'\nStandardInput=socket\n");
    expect(r.received).toBe('socket:\n');
  });
});

describe('withStoredFds() with the socket as stdio', () => {
  it('passes no fd (stored ones neither), as exec_invoke() with a socket_fd; else sockets then stored', () => {
    const stored = [{ fd: 40, name: 'kept' }];
    expect(withStoredFds({ socketStdio: 7, env: { A: '1' } }, stored)).toEqual({ socketStdio: 7, env: { A: '1' } });
    expect(withStoredFds({ fds: [5], fdNames: ['s'] }, stored)).toEqual({ fds: [5, 40], fdNames: ['s', 'kept'] });
  });
});
