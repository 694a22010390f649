/**
 * The README's demo: runs `mptcpd-lite run` on loopback with the example units (copied to a temp
 * directory with free ports), connects to the MPTCP echo service (Accept=yes) and the MPTCP HTTP
 * service (Accept=no, Node, listenFds()) with `mptcpd-lite connect`, prints what happened, stops the
 * daemon and exits 0 — or non-zero with the reason. An overall timeout guarantees it never hangs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const appRoot = path.resolve(here, '..');
const cli = path.join(here, 'cli.js');
const examples = path.join(appRoot, 'examples');
const OVERALL_TIMEOUT_MS = 60_000;

const children = new Set<ChildProcess>();
let tmp: string | undefined;

function say(line = ''): void {
  process.stdout.write(line + '\n');
}

function fail(message: string): never {
  process.stderr.write(`\ndemo FAILED: ${message}\n`);
  cleanup();
  process.exit(1);
}

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface Spawned {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], input: string, timeoutMs = 15_000): Promise<Spawned> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

interface ConnectEvent {
  event: string;
  protocol?: number;
  transport?: string;
  local?: string;
  remote?: string;
  subflows?: Array<{ local: string; remote: string }>;
  source?: string;
}

function events(stderr: string): ConnectEvent[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ConnectEvent);
}

function describe(name: string, r: Spawned): ConnectEvent {
  const connected = events(r.stderr).find((e) => e.event === 'connected');
  if (r.code !== 0 || !connected) fail(`${name}: mptcpd-lite connect exited ${r.code}\n${r.stderr}`);
  say(`  connection    ${connected.local} -> ${connected.remote}`);
  say(
    `  protocol      ${connected.protocol}${connected.protocol === 262 ? ' (IPPROTO_MPTCP)' : ''}, ${connected.transport}`,
  );
  for (const s of connected.subflows ?? []) say(`  subflow       ${s.local} -> ${s.remote}`);
  if (connected.protocol !== 262 || connected.transport !== 'mptcp')
    fail(`${name}: the connection is not MPTCP (${connected.transport})`);
  return connected;
}

async function main(): Promise<void> {
  const overall = setTimeout(() => fail(`no result after ${OVERALL_TIMEOUT_MS / 1000} s`), OVERALL_TIMEOUT_MS);
  overall.unref();
  tmp = mkdtempSync(path.join(os.tmpdir(), 'mptcpd-lite-demo-'));
  const unitDir = path.join(tmp, 'units');
  const echoPort = await freePort();
  const httpPort = await freePort();
  const { mkdirSync } = await import('node:fs');
  mkdirSync(unitDir);
  for (const f of readdirSync(path.join(examples, 'units'))) {
    const text = readFileSync(path.join(examples, 'units', f), 'utf8')
      .replace('127.0.0.1:7007', `127.0.0.1:${echoPort}`)
      .replace('127.0.0.1:8080', `127.0.0.1:${httpPort}`)
      // The copy is not beside http-server.mjs any more (%Y is the unit's directory): name the original, and
      // this node.
      .replace(
        '/usr/bin/env node %Y/../http-server.mjs',
        `${process.execPath} ${path.join(examples, 'http-server.mjs')}`,
      );
    writeFileSync(path.join(unitDir, f), text);
  }
  const control = path.join(tmp, 'control.sock');

  say(`mptcpd-lite demo — units in ${unitDir}`);
  say(`  echo.socket  MPTCP, Accept=yes, 127.0.0.1:${echoPort} -> echo@.service (cat per connection)`);
  say(`  http.socket  MPTCP, Accept=no,  127.0.0.1:${httpPort} -> http.service (Node, listenFds())`);
  say();

  const daemon = spawn(process.execPath, [cli, 'run', '--units', unitDir, '--control', control], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(daemon);
  let daemonErr = '';
  daemon.stderr.on('data', (d: Buffer) => (daemonErr += d.toString()));
  const ready = await new Promise<Record<string, unknown>>((resolve) => {
    let out = '';
    const timer = setTimeout(() => fail(`the daemon did not become ready within 15 s\n${daemonErr}`), 15_000);
    daemon.on('exit', (code) => fail(`the daemon exited early (${code})\n${daemonErr}`));
    daemon.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"event":"ready"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as Record<string, unknown>);
      }
    });
  });
  say(
    `daemon ready: pid ${String(ready.pid)}, ${String(ready.sockets)} sockets listening, started in ${String(ready.startupMs)} ms`,
  );
  say();

  say('1. echo (Accept=yes): mptcpd-lite connect --mptcp require');
  const echo = await runCli(['connect', `127.0.0.1:${echoPort}`, '--mptcp', 'require', '--json'], 'hello over MPTCP\n');
  describe('echo', echo);
  say(`  echoed        ${JSON.stringify(echo.stdout)}`);
  if (echo.stdout !== 'hello over MPTCP\n') fail(`echo: expected the input back, got ${JSON.stringify(echo.stdout)}`);
  say();

  say('2. HTTP (Accept=no): mptcpd-lite connect --mptcp require');
  const httpRes = await runCli(
    ['connect', `127.0.0.1:${httpPort}`, '--mptcp', 'require', '--json'],
    'GET /demo HTTP/1.0\r\nHost: localhost\r\n\r\n',
  );
  describe('http', httpRes);
  const statusLine = httpRes.stdout.split('\r\n')[0] ?? '';
  const body = httpRes.stdout.split('\r\n\r\n')[1]?.trim() ?? '';
  say(`  response      ${statusLine}  ${body}`);
  if (!statusLine.startsWith('HTTP/1.1 200'))
    fail(`http: unexpected response ${JSON.stringify(httpRes.stdout.slice(0, 200))}`);
  say();

  const st = await runCli(['status', '--json', '--control', control], '');
  if (st.code === 0) {
    const status = JSON.parse(st.stdout) as {
      sockets: Array<{
        unit: string;
        state: string;
        activations: number;
        accepted: number;
        listen: Array<{ address: string; protocol: string }>;
      }>;
      services: Array<{ unit: string; state: string; pid?: number }>;
    };
    say('3. daemon status');
    for (const s of status.sockets)
      say(
        `  ${s.unit.padEnd(12)} ${s.state.padEnd(10)} ${s.listen.map((l) => `${l.address} ${l.protocol}`).join(', ')}  activations ${s.activations}, accepted ${s.accepted}`,
      );
    for (const v of status.services) say(`  ${v.unit.padEnd(12)} ${v.state.padEnd(10)} pid ${v.pid ?? '-'}`);
    say();
  } else {
    fail(`status: exit ${st.code}: ${st.stderr}`);
  }

  daemon.removeAllListeners('exit');
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => fail(`the daemon did not stop within 15 s of SIGTERM\n${daemonErr}`), 15_000);
    daemon.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
    daemon.kill('SIGTERM');
  });
  children.delete(daemon);
  if (code !== 0) fail(`the daemon exited ${code} after SIGTERM\n${daemonErr}`);
  say('4. daemon stopped with SIGTERM (exit 0). Its log:');
  for (const l of daemonErr.trim().split('\n')) say(`  | ${l}`);
  say();
  say('demo OK: both example services were activated and answered over MPTCP (protocol 262).');
  cleanup();
}

process.on('SIGINT', () => fail('interrupted'));
main().catch((err: unknown) => fail(err instanceof Error ? (err.stack ?? err.message) : String(err)));
