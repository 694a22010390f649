/** `mptcpd-lite check`: is this host ready for MPTCP? */
import { Command } from 'commander';
import { action, examplesHelp, exitCodesHelp } from '../action.js';
import type { HostCheck } from '../check/host.js';
import { EXIT_ERROR, EXIT_FAILURE, EXIT_OK } from '../exit-codes.js';
import { toJson } from '../json.js';

export function formatCheck(r: HostCheck): string {
  const lines: string[] = [];
  const row = (k: string, v: string): void => void lines.push(`${k.padEnd(18)} ${v}`);
  row(
    'kernel support',
    r.support.available ? 'yes' : `no (${r.support.reason ?? 'unknown'}${r.support.code ? `, ${r.support.code}` : ''})`,
  );
  row('net.mptcp.enabled', r.sysctl.enabled ?? 'missing');
  row('path manager', r.pathManager);
  row('scheduler', r.sysctl.scheduler ?? 'default (sysctl missing)');
  if (r.limits)
    row(
      'limits',
      `subflows ${r.limits.subflows}, add_addr_accepted ${r.limits.addAddrAccepted}${r.pmSource ? `  [${r.pmSource}]` : ''}`,
    );
  else if (r.pmError) row('limits', `unreadable: ${r.pmError}`);
  if (r.endpoints) {
    if (r.endpoints.length === 0) row('endpoints', 'none');
    for (const [i, e] of r.endpoints.entries()) {
      row(
        i === 0 ? 'endpoints' : '',
        `${e.address}${e.port ? ` port ${e.port}` : ''} id ${e.id} ${e.flags.join(' ')}${e.dev ? ` dev ${e.dev}` : e.ifindex ? ` ifindex ${e.ifindex}` : ''}`,
      );
    }
  }
  lines.push('', r.verdict);
  for (const why of r.reasons ?? []) if (!r.verdict.includes(why.message)) lines.push(`  why: ${why.message}`);
  for (const a of r.advice) if (!r.verdict.includes(a)) lines.push(`  hint: ${a}`);
  return lines.join('\n') + '\n';
}

export function checkCommand(): Command {
  return new Command('check')
    .description('tell whether this host is ready for MPTCP: kernel, sysctls, path manager, limits, endpoints')
    .option('--json', 'print the facts and the verdict as JSON')
    .addHelpText(
      'after',
      examplesHelp([
        'mptcpd-lite check',
        'mptcpd-lite check --json | jq .verdict',
        'ip netns exec lab mptcpd-lite check',
      ]),
    )
    .addHelpText(
      'after',
      exitCodesHelp([
        [EXIT_OK, 'ready: MPTCP sockets can be created (the verdict says whether several paths will be used)'],
        [EXIT_FAILURE, 'not ready: the kernel lacks MPTCP or net.mptcp.enabled=0'],
        [EXIT_ERROR, 'error while checking'],
      ]),
    )
    .action(
      action(async (opts: { json?: boolean }) => {
        const { checkHost } = await import('../check/host.js');
        const r = checkHost();
        process.stdout.write(opts.json ? toJson(r, 2) + '\n' : formatCheck(r));
        return r.ready ? EXIT_OK : EXIT_FAILURE;
      }),
    );
}
