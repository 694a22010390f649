/**
 * IPAddressDeny=/IPAddressAllow= on a .socket (fixtures/v257/ip-acl, recorded by record.sh). systemd
 * 257 filters the socket unit's traffic with cgroup BPF: against IPAddressDeny=any
 * IPAddressAllow=10.9.9.9 a client from 127.0.0.1 times out (ip.socket). We have no address filter,
 * and silently serving was a security gap: such a socket is refused at start, naming the directive
 * (fail closed; also when the allow list would let the client in, ipa.socket), unless the daemon
 * runs with --allow-unenforced-sandbox (then it listens, with a warning). A deny list emptied by a
 * later `IPAddressDeny=` restricts nothing (ipr.socket): it listens, as 257.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine, loadEngineUnits } from '../src/index.js';
import { testLogger } from './helpers/log.js';
import { recording } from './helpers/recorded-257.js';
import { loopback, tmp } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/ip-acl/', import.meta.url));
const rec = recording(FIXTURE);

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

async function units(): Promise<{ dir: string; ports: Map<string, string> }> {
  const dir = join(tmp('ip-acl-'), 'units');
  mkdirSync(dir);
  const ports = new Map<string, string>();
  for (const f of readdirSync(FIXTURE)) {
    if (!/^ip[abr]?[@.]/.test(f)) continue;
    let text = readFileSync(join(FIXTURE, f), 'utf8');
    if (f.endsWith('.socket')) {
      const addr = await loopback();
      ports.set(f, addr);
      text = text.replace(/^ListenStream=.*$/m, `ListenStream=${addr}`);
    }
    writeFileSync(join(dir, f), text);
  }
  return { dir, ports };
}

/** What a client from 127.0.0.1 reads (until EOF), or the connect error's code. */
function client(addr: string): Promise<string> {
  const [host, port] = addr.split(':') as [string, string];
  return new Promise((resolve) => {
    let data = '';
    const c = connect({ host, port: Number(port) });
    c.on('data', (d) => (data += d.toString()));
    c.on('end', () => resolve(`read ${JSON.stringify(data)}`));
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

describe('IPAddressDeny= on a socket (systemd 257, fixtures/v257/ip-acl)', () => {
  it('the recording: 257 drops the denied client (connect times out), serves an allowed one', () => {
    expect(rec.tagged('connect', 'ip.socket')).toEqual(['TimeoutError']);
    expect(rec.tagged('connect', 'ipa.socket')).toEqual(["read b'hi\\n'"]);
    expect(rec.tagged('connect', 'ipr.socket')).toEqual(["read b'hi\\n'"]);
  });

  it('fail closed: a socket with IPAddressDeny= is refused at start naming it, never serves; a reset list listens', async () => {
    const { dir, ports } = await units();
    const log = testLogger();
    engine = new ActivationEngine({ logger: log });
    const report = await engine.start((await loadEngineUnits([dir])).units);
    const refused = new Map(report.failed.map((f) => [f.unit, f]));
    for (const u of ['ip.socket', 'ipa.socket']) {
      expect(refused.get(u)?.code).toBe('SANDBOX_NOT_ENFORCED');
      expect(refused.get(u)?.error).toMatch(/^IPAddressDeny=any is not enforced by mptcpd-lite for sockets: refusing/);
      expect(engine.unitInfo(u)?.activeState).not.toBe('active');
      // 257 drops the SYN (a timeout); nothing listens here: refused at once. Never served.
      expect(await client(ports.get(u) as string)).toBe('ECONNREFUSED');
      await expect(engine.startUnit(u)).rejects.toThrow(/IPAddressDeny=any is not enforced/);
    }
    expect(refused.has('ipr.socket')).toBe(false);
    expect(engine.unitInfo('ipr.socket')?.activeState).toBe('active');
    expect(await client(ports.get('ipr.socket') as string)).toBe('read "hi\\n"');
  });

  it('with --allow-unenforced-sandbox: it listens and serves, with a warning naming the directive', async () => {
    const { dir, ports } = await units();
    const log = testLogger();
    engine = new ActivationEngine({ logger: log, allowUnenforcedSandbox: true });
    const report = await engine.start((await loadEngineUnits([dir])).units);
    expect(report.failed.map((f) => f.unit)).not.toContain('ip.socket');
    expect(log.warnings).toContain(
      'ip.socket: IPAddressDeny=any is not enforced by mptcpd-lite; listening without an address filter (--allow-unenforced-sandbox).',
    );
    expect(await client(ports.get('ip.socket') as string)).toBe('read "hi\\n"');
  });
});
