/** `mptcpd-lite endpoints`: the in-kernel path manager's endpoints and limits, over genetlink mptcp_pm. */
import { isIP } from 'node:net';
import { Command } from 'commander';
import { action, examplesHelp, exitCodesHelp } from '../action.js';
import { CliError, EXIT_ERROR, EXIT_OK } from '../exit-codes.js';
import { toJson } from '../json.js';
import {
  PathManager,
  pmFlagBits,
  type EndpointSpec,
  type PathManagerState,
  type PmEndpoint,
} from '../netlink/mptcp-pm.js';
import { linkNames } from '../netlink/rtnetlink.js';
import { netlinkRequest } from '../netlink/transport.js';

const FLAG_WORDS = ['signal', 'subflow', 'backup', 'fullmesh'];

function openPm(): PathManager {
  try {
    return PathManager.open(netlinkRequest);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new CliError(
      `cannot reach the MPTCP path manager (genetlink mptcp_pm): ${msg}${msg.includes('ENOENT') ? ' — the kernel has no MPTCP (CONFIG_MPTCP)' : ''}`,
      EXIT_ERROR,
    );
  }
}

function withNames(state: PathManagerState): PathManagerState {
  const names = linkNames(netlinkRequest);
  for (const e of state.endpoints) if (e.ifindex !== undefined) e.dev = names.get(e.ifindex);
  return state;
}

export function formatEndpoint(e: PmEndpoint): string {
  return `${e.address}${e.port ? ` port ${e.port}` : ''} id ${e.id}${e.flags.length ? ` ${e.flags.join(' ')}` : ''}${e.dev ? ` dev ${e.dev}` : e.ifindex ? ` ifindex ${e.ifindex}` : ''}`;
}

export function formatState(s: PathManagerState): string {
  const lines = [
    `limits: subflows ${s.limits.subflows} add_addr_accepted ${s.limits.addAddrAccepted}`,
    `endpoints: ${s.endpoints.length === 0 ? 'none' : ''}`,
  ];
  for (const e of s.endpoints) lines.push(`  ${formatEndpoint(e)}`);
  return lines.join('\n') + '\n';
}

/** An endpoint named by id (a number) or address. */
function target(pm: PathManager, what: string): PmEndpoint {
  const eps = pm.read().endpoints;
  const ep = /^\d+$/.test(what)
    ? eps.find((e) => e.id === Number(what))
    : isIP(what)
      ? eps.find((e) => e.address === what)
      : undefined;
  if (!/^\d+$/.test(what) && !isIP(what))
    throw new CliError(`"${what}" is neither an endpoint id nor an IP address`, EXIT_ERROR);
  if (!ep) throw new CliError(`no endpoint ${what} (see: mptcpd-lite endpoints)`, EXIT_ERROR, 'ENOENT');
  return ep;
}

function int(name: string, v: string | undefined, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > max) throw new CliError(`invalid ${name} ${v} (0…${max})`, EXIT_ERROR);
  return n;
}

function netlinkFailure(what: string, err: unknown): CliError {
  const code = (err as { code?: string }).code;
  const hint =
    code === 'EEXIST'
      ? ' (an endpoint with this address or id already exists)'
      : code === 'EPERM'
        ? ' (needs CAP_NET_ADMIN: run as root)'
        : code === 'EINVAL'
          ? ' (the kernel rejected the request: check the flags and id; signal and fullmesh cannot be combined)'
          : code === 'EADDRNOTAVAIL'
            ? " (an endpoint with a port makes the kernel listen on it: the address must be one of this host's)"
            : '';
  return new CliError(`${what}: ${err instanceof Error ? err.message : String(err)}${hint}`, EXIT_ERROR, code);
}

export function endpointsCommand(): Command {
  const print = (json: boolean | undefined, value: unknown, text: string): void =>
    void process.stdout.write(json ? toJson(value, 2) + '\n' : text);
  const cmd = new Command('endpoints')
    .description(
      'list, add, remove and flag MPTCP path-manager endpoints, and show or set the limits (like `ip mptcp endpoint` / `ip mptcp limits`)',
    )
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      examplesHelp([
        'mptcpd-lite endpoints',
        'mptcpd-lite endpoints add 10.0.2.1 subflow --dev eth1',
        'mptcpd-lite endpoints add 192.0.2.10 signal --id 5',
        'mptcpd-lite endpoints flag 5 backup',
        'mptcpd-lite endpoints remove 10.0.2.1',
        'mptcpd-lite endpoints limits --subflows 2 --add-addr-accepted 2',
      ]),
    )
    .addHelpText(
      'after',
      exitCodesHelp([
        [EXIT_OK, 'done'],
        [EXIT_ERROR, 'bad arguments, no such endpoint, or the kernel refused (errno name printed)'],
      ]),
    )
    .action(
      action((opts: { json?: boolean }) => {
        const s = withNames(openPm().read());
        print(opts.json, s, formatState(s));
        return EXIT_OK;
      }),
    );
  cmd
    .command('list')
    .description('the limits and every endpoint')
    .option('--json', 'print JSON')
    .action(
      action((opts: { json?: boolean }) => {
        const s = withNames(openPm().read());
        print(opts.json ?? cmd.opts<{ json?: boolean }>().json, s, formatState(s));
        return EXIT_OK;
      }),
    );
  cmd
    .command('add <address> [flags...]')
    .description(`add an endpoint; flags: ${FLAG_WORDS.join(', ')} (default subflow)`)
    .option('--id <n>', 'endpoint id (1…255; default: the kernel picks)')
    .option('--dev <iface>', 'bind subflows from this address to the interface')
    .option('--port <n>', 'port (signal endpoints: announce this port)')
    .option('--json', 'print the endpoint added as JSON')
    .action(
      action((address: string, flags: string[], opts: { id?: string; dev?: string; port?: string; json?: boolean }) => {
        if (!isIP(address)) throw new CliError(`not an IP address: ${address}`, EXIT_ERROR);
        let bits: number;
        try {
          bits = pmFlagBits(flags.length ? flags : ['subflow']);
        } catch (err) {
          throw new CliError((err as Error).message, EXIT_ERROR);
        }
        const spec: EndpointSpec = { address, flags: bits };
        const id = int('--id', opts.id, 255);
        if (id !== undefined) spec.id = id;
        const port = int('--port', opts.port, 65535);
        if (port !== undefined) spec.port = port;
        if (opts.dev !== undefined) {
          const found = [...linkNames(netlinkRequest)].find(([, n]) => n === opts.dev);
          if (!found) throw new CliError(`no interface named ${opts.dev}`, EXIT_ERROR, 'ENODEV');
          spec.ifindex = found[0];
        }
        const pm = openPm();
        try {
          pm.add(spec);
        } catch (err) {
          throw netlinkFailure(`add endpoint ${address}`, err);
        }
        const ep = withNames(pm.read()).endpoints.find((e) => e.address === address);
        print(
          opts.json ?? cmd.opts<{ json?: boolean }>().json,
          ep ?? null,
          ep ? `added ${formatEndpoint(ep)}\n` : `added ${address}\n`,
        );
        return EXIT_OK;
      }),
    );
  cmd
    .command('remove <id-or-address>')
    .alias('delete')
    .description('remove an endpoint (subflows using it are closed, its announcement withdrawn)')
    .option('--json', 'print the endpoint removed as JSON')
    .action(
      action((what: string, opts: { json?: boolean }) => {
        const pm = openPm();
        const ep = target(pm, what);
        try {
          pm.remove({ id: ep.id, address: ep.address });
        } catch (err) {
          throw netlinkFailure(`remove endpoint ${what}`, err);
        }
        print(opts.json ?? cmd.opts<{ json?: boolean }>().json, ep, `removed ${formatEndpoint(ep)}\n`);
        return EXIT_OK;
      }),
    );
  cmd
    .command('flag <id-or-address> <flags...>')
    .description('change the backup and fullmesh flags of an endpoint (backup, nobackup, fullmesh, nofullmesh)')
    .option('--json', 'print the endpoint as JSON')
    .action(
      action((what: string, words: string[], opts: { json?: boolean }) => {
        const pm = openPm();
        const ep = target(pm, what);
        let bits = pmFlagBits(ep.flags.filter((f) => f !== 'implicit'));
        for (const w of words) {
          const off = w.startsWith('no');
          const name = off ? w.slice(2) : w;
          if (name !== 'backup' && name !== 'fullmesh')
            throw new CliError(
              `flag ${w}: only backup, nobackup, fullmesh, nofullmesh can be changed on an existing endpoint (remove and re-add it for signal/subflow)`,
              EXIT_ERROR,
            );
          const bit = pmFlagBits([name]);
          bits = off ? bits & ~bit : bits | bit;
        }
        try {
          pm.setFlags({ id: ep.id, address: ep.address, flags: bits });
        } catch (err) {
          throw netlinkFailure(`change endpoint ${what}`, err);
        }
        const now = withNames(pm.read()).endpoints.find((e) => e.id === ep.id) ?? ep;
        print(opts.json ?? cmd.opts<{ json?: boolean }>().json, now, `${formatEndpoint(now)}\n`);
        return EXIT_OK;
      }),
    );
  cmd
    .command('flush')
    .description('remove every endpoint')
    .action(
      action(() => {
        try {
          openPm().flush();
        } catch (err) {
          throw netlinkFailure('flush endpoints', err);
        }
        return EXIT_OK;
      }),
    );
  cmd
    .command('limits')
    .description('show the limits, or set them')
    .option('--subflows <n>', 'extra subflows per connection (0…8)')
    .option('--add-addr-accepted <n>', 'addresses announced by the peer that are used (0…8)')
    .option('--json', 'print JSON')
    .action(
      action((opts: { subflows?: string; addAddrAccepted?: string; json?: boolean }) => {
        const pm = openPm();
        const subflows = int('--subflows', opts.subflows, 8);
        const addAddrAccepted = int('--add-addr-accepted', opts.addAddrAccepted, 8);
        if (subflows !== undefined || addAddrAccepted !== undefined) {
          try {
            pm.setLimits({
              ...(subflows !== undefined ? { subflows } : {}),
              ...(addAddrAccepted !== undefined ? { addAddrAccepted } : {}),
            });
          } catch (err) {
            throw netlinkFailure('set limits', err);
          }
        }
        const { limits } = pm.read();
        print(
          opts.json ?? cmd.opts<{ json?: boolean }>().json,
          limits,
          `subflows ${limits.subflows} add_addr_accepted ${limits.addAddrAccepted}\n`,
        );
        return EXIT_OK;
      }),
    );
  return cmd;
}
