import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missing, probes } from './helpers/capability.js';
import { lastJson, runIn } from './helpers/netns.js';

const labSh = fileURLToPath(new URL('../../../tooling/netlab/lab.sh', import.meta.url));
// A name of this run's own ([a-z0-9]{1,8}): `lab.sh NAME up` starts with `down` of that name, so a fixed
// name let a second run (another package's CI, an engineer's run) tear this lab down mid-test.
const LAB = `nat${process.pid % 100000}`;
const skip = missing(probes.root, probes.netns, probes.mptcp);

interface LabEnv {
  LAB_CLI_NS: string;
  LAB_SRV_NS: string;
  LAB_SRV1: string;
  LAB_SRV2: string;
  LAB_CLI1: string;
  LAB_CLI2: string;
}

interface Flow {
  local: { address: string };
  remote: { address: string };
  tcp: { state: number };
}

function lab(...args: string[]): string {
  return execFileSync(labSh, [LAB, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function run(ns: string, script: string, env: Record<string, string>, onStderr?: (s: string) => void): Promise<string> {
  return runIn(ns, script, env, 25_000, onStderr);
}

describe.skipIf(skip)('two-path lab (tooling/netlab, 2 × 20 Mbit, server signals its second address)', () => {
  let env: LabEnv;
  beforeAll(() => {
    lab('up', '20mbit', 'signal');
    const vars = Object.fromEntries(
      lab('env')
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    env = vars as unknown as LabEnv;
  }, 60_000);
  afterAll(() => {
    lab('down');
  });

  it('an MPTCP connection gets 2 subflows and subflows() lists both paths', async () => {
    const PORT = '5301';
    let ready: () => void = () => undefined;
    const listening = new Promise<void>((r) => (ready = r));
    const server = run(env.LAB_SRV_NS, 'lab-server.mjs', { PORT }, (err) => {
      if (err.includes('listening')) ready();
    });
    await listening;
    const client = run(env.LAB_CLI_NS, 'lab-client.mjs', { PORT, SRV: env.LAB_SRV1 });
    const c = lastJson<{ status: { active: boolean }; subflows: Flow[]; legacy: Flow[] }>(await client);
    const s = lastJson<{ status: { active: boolean }; subflows: Flow[]; info: { subflows: number } }>(await server);
    expect(c.status.active).toBe(true);
    expect(s.status.active).toBe(true);
    expect(c.subflows).toHaveLength(2);
    expect(c.subflows.map((f) => f.remote.address).sort()).toEqual([env.LAB_SRV1, env.LAB_SRV2].sort());
    expect(c.subflows.map((f) => f.local.address).sort()).toEqual([env.LAB_CLI1, env.LAB_CLI2].sort());
    // MPTCP_SUBFLOW_ADDRS + MPTCP_TCPINFO (the pre-6.5 path) agree with MPTCP_FULL_INFO
    expect(c.legacy.map((f) => f.remote.address).sort()).toEqual([env.LAB_SRV1, env.LAB_SRV2].sort());
    expect(c.legacy.every((f) => f.tcp.state === 1)).toBe(true);
    expect(s.subflows).toHaveLength(2);
    expect(s.subflows.map((f) => f.local.address).sort()).toEqual([env.LAB_SRV1, env.LAB_SRV2].sort());
    expect(s.info.subflows).toBe(1); // mptcpi_subflows counts the additional subflows only
  }, 60_000);
});
