/**
 * HTTP/1.1 keep-alive over MPTCP vs TCP on one path (127.0.0.1): an unmodified node:http server run
 * with `--import @mptcp/native/register` (MPTCP) or without (TCP), loaded by autocannon (a real load
 * generator, dialing MPTCP through the same hook with NODE_MPTCP=1) and by global fetch(). Each
 * run checks that every server connection was MPTCP (or none, for TCP); transports interleaved.
 * In the same repetitions, the kernel alone: docs/repro/mptcp-rr-bench.c (C, no Node, the same
 * 10 keep-alive connections with one request in flight each), so the report shows the kernel's own
 * MPTCP / TCP ratio for this traffic beside Node's.
 */
import { createRequire } from 'node:module';
import { cRequestResponse, type CRrResult } from '../lib/c-rr.js';
import { Skip } from '../lib/result.js';
import { median, round, sampled } from '../lib/stats.js';
import { start } from '../lib/proc.js';
import { worker } from '../lib/paths.js';
import type { Scenario } from '../lib/scenario.js';

type Transport = 'tcp' | 'mptcp';

const require = createRequire(import.meta.url);

function resolveOrSkip(id: string): string {
  try {
    return require.resolve(id);
  } catch {
    throw new Skip(`${id} is not installed`);
  }
}

/** node flags and environment for one side of a run. */
function side(transport: Transport, register: string): { flags: string[]; env: NodeJS.ProcessEnv } {
  return transport === 'mptcp'
    ? { flags: ['--import', register], env: { ...process.env, NODE_MPTCP: '1' } }
    : { flags: [], env: { ...process.env, NODE_MPTCP: '0' } };
}

async function withServer<T>(
  transport: Transport,
  register: string,
  body: (url: string) => Promise<T>,
): Promise<{ result: T; connections: number; mptcp: number }> {
  const s = side(transport, register);
  const server = start(process.execPath, [...s.flags, worker('http-hello')], { env: s.env });
  try {
    const port = Number((await server.waitFor(/^LISTENING \d+/, 20_000)).split(' ')[1]);
    const result = await body(`http://127.0.0.1:${port}/`);
    const counts = server.waitFor(/^CONNECTIONS /, 20_000);
    server.child.kill('SIGTERM');
    const [, total, mptcp] = (await counts).split(' ').map(Number) as [number, number, number];
    return { result, connections: total, mptcp };
  } finally {
    await server.stop('SIGKILL');
  }
}

async function autocannonRun(
  transport: Transport,
  register: string,
  bin: string,
  url: string,
  seconds: number,
  connections: number,
): Promise<number> {
  const s = side(transport, register);
  const p = start(
    process.execPath,
    [...s.flags, bin, '--json', '-c', String(connections), '-d', String(seconds), url],
    { env: s.env },
  );
  const code = await p.exited;
  if (code !== 0) throw new Error(`autocannon exited ${code}: ${p.stderr.slice(-5).join('\n')}`);
  const json = JSON.parse(p.stdout.join('\n')) as {
    requests: { average: number; total: number };
    errors: number;
    non2xx: number;
    duration: number;
  };
  if (json.errors > 0 || json.non2xx > 0) throw new Error(`autocannon: ${json.errors} errors, ${json.non2xx} non-2xx`);
  return json.requests.total / json.duration;
}

async function fetchRun(
  transport: Transport,
  register: string,
  url: string,
  seconds: number,
  concurrency: number,
): Promise<number> {
  const s = side(transport, register);
  const p = start(
    process.execPath,
    [
      ...s.flags,
      worker('fetch-load'),
      '--url',
      url,
      '--seconds',
      String(seconds),
      '--concurrency',
      String(concurrency),
    ],
    { env: s.env },
  );
  const line = await p.waitFor(/^REQUESTS /, (seconds + 60) * 1000);
  await p.exited;
  const [, n, secs] = line.split(' ').map(Number) as [number, number, number];
  return n / secs;
}

export const http: Scenario = {
  name: 'http',
  title: 'HTTP/1.1 keep-alive req/s: MPTCP (--import @mptcp/native/register) vs TCP, autocannon and fetch',
  needs: ['mptcp'],
  async run(ctx) {
    const register = resolveOrSkip('@mptcp/native/register');
    const bin = resolveOrSkip('autocannon/autocannon.js');
    const seconds = ctx.quick ? 3 : 10;
    const connections = 10;
    const reps = ctx.quick ? ctx.reps : Math.max(ctx.reps, 5);
    const rates: Record<string, number[]> = {
      'autocannon-tcp': [],
      'autocannon-mptcp': [],
      'fetch-tcp': [],
      'fetch-mptcp': [],
      'c-tcp': [],
      'c-mptcp': [],
    };
    const cRuns: Record<string, CRrResult[]> = { 'c-tcp': [], 'c-mptcp': [] };
    for (let rep = 0; rep < reps; rep++) {
      const order: Transport[] = rep % 2 === 0 ? ['tcp', 'mptcp'] : ['mptcp', 'tcp'];
      for (const tool of ['autocannon', 'fetch'] as const) {
        for (const transport of order) {
          const r = await withServer(transport, register, (url) =>
            tool === 'autocannon'
              ? autocannonRun(transport, register, bin, url, seconds, connections)
              : fetchRun(transport, register, url, seconds, connections),
          );
          const expected = transport === 'mptcp' ? r.connections : 0;
          if (r.connections === 0 || r.mptcp !== expected)
            throw new Error(`${tool} ${transport}: ${r.mptcp} of ${r.connections} server connections were MPTCP`);
          rates[`${tool}-${transport}`]!.push(r.result);
          ctx.log(
            `rep ${rep + 1} ${tool} ${transport}: ${Math.round(r.result)} req/s over ${r.connections} connections`,
          );
        }
      }
      // The kernel alone, same pattern (C server and client, no Node), half the run length.
      for (const transport of order) {
        const c = await cRequestResponse({ transport, seconds: Math.max(1, seconds / 2), connections });
        rates[`c-${transport}`]!.push(c.rps);
        cRuns[`c-${transport}`]!.push(c);
        ctx.log(
          `rep ${rep + 1} C ${transport}: ${Math.round(c.rps)} req/s, CPU per request client ${c.client_cpu_us} us, server ${c.server_cpu_us} us`,
        );
      }
    }
    const s = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, sampled(v)]));
    const ratio = (tool: string): number => round(s[`${tool}-mptcp`]!.median / s[`${tool}-tcp`]!.median, 3);
    const how = (tool: string): string =>
      `${tool === 'autocannon' ? 'autocannon -c 10' : '10 concurrent fetch() loops'}, ${seconds} s per run, ${reps} runs per transport interleaved, server and client each one Node process on 127.0.0.1; ratio of medians. MPTCP = both sides under --import @mptcp/native/register with NODE_MPTCP=1 (every server connection checked with isMptcp).`;
    return {
      summary: { httpKeepAliveRatio: ratio('autocannon'), fetchRatio: ratio('fetch'), httpKernelRatio: ratio('c') },
      metrics: [
        {
          key: 'httpKeepAliveRatio',
          label: 'HTTP/1.1 keep-alive req/s (autocannon), MPTCP / TCP',
          value: ratio('autocannon'),
          unit: '',
          goal: { op: '>=', value: 0.95 },
          how: how('autocannon'),
        },
        {
          key: 'fetchRatio',
          label: 'fetch() keep-alive req/s, MPTCP / TCP',
          value: ratio('fetch'),
          unit: '',
          goal: { op: '>=', value: 0.95 },
          how: how('fetch'),
        },
        {
          key: 'httpKernelRatio',
          label: 'Request/response req/s, the kernel alone (C, no Node): MPTCP / TCP',
          value: ratio('c'),
          unit: '',
          how: `docs/repro/mptcp-rr-bench.c in the same repetitions: a C server and a C client process (one epoll loop each, ${connections} keep-alive connections, one 110-byte request / 160-byte response in flight on each, TCP_NODELAY), ${Math.max(1, seconds / 2)} s per run, transports interleaved; ratio of medians. What MPTCP costs this traffic in the kernel, with no Node and no @mptcp/native: the ceiling for the Node ratio when the kernel's per-packet work decides the rate.`,
        },
        {
          key: 'http.c.cpuPerRequest',
          label: 'Request/response, C: CPU µs per request, MPTCP / TCP (client + server)',
          value: round(
            median(cRuns['c-mptcp']!.map((c) => c.client_cpu_us + c.server_cpu_us)) /
              median(cRuns['c-tcp']!.map((c) => c.client_cpu_us + c.server_cpu_us)),
            3,
          ),
          unit: '',
        },
        {
          key: 'http.autocannon.tcp',
          label: 'autocannon req/s, TCP',
          value: Math.round(s['autocannon-tcp']!.median),
          unit: 'req/s',
        },
        {
          key: 'http.autocannon.mptcp',
          label: 'autocannon req/s, MPTCP',
          value: Math.round(s['autocannon-mptcp']!.median),
          unit: 'req/s',
        },
        { key: 'http.fetch.tcp', label: 'fetch req/s, TCP', value: Math.round(s['fetch-tcp']!.median), unit: 'req/s' },
        {
          key: 'http.fetch.mptcp',
          label: 'fetch req/s, MPTCP',
          value: Math.round(s['fetch-mptcp']!.median),
          unit: 'req/s',
        },
      ],
      data: {
        seconds,
        connections,
        reps,
        samples: rates,
        cCpuMicrosecondsPerRequest: Object.fromEntries(
          Object.entries(cRuns).map(([k, v]) => [
            k,
            { client: median(v.map((c) => c.client_cpu_us)), server: median(v.map((c) => c.server_cpu_us)) },
          ]),
        ),
      },
      charts: [],
      notes: [],
    };
  },
};
