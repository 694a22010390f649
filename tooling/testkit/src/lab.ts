/**
 * The named two-path MPTCP lab (tooling/netlab/lab.sh) as an object: up, env, link down/up, down.
 * Every lab built here is torn down on exit, even when a scenario throws.
 */
import { execFileSync } from 'node:child_process';
import { LAB_SH } from './paths.js';
import { start, type Running } from './proc.js';

export interface LabEnv {
  name: string;
  cliNs: string;
  srvNs: string;
  cli1: string;
  cli2: string;
  srv1: string;
  srv2: string;
}

const live = new Set<string>();
let hooked = false;

function sh(args: string[]): string {
  return execFileSync('bash', [LAB_SH, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export class Lab {
  private constructor(readonly env: LabEnv) {}

  /** Build the lab: two namespaces, two shaped paths (`rate` per path, e.g. `20mbit`, or `none`). */
  static up(name: string, rate = '20mbit', mode = 'signal'): Lab {
    if (!hooked) {
      hooked = true;
      process.on('exit', () => {
        for (const n of live) {
          try {
            execFileSync('bash', [LAB_SH, n, 'down'], { stdio: 'ignore' });
          } catch {
            /* best effort at exit */
          }
        }
      });
    }
    live.add(name);
    sh([name, 'up', rate, mode]);
    const vars = Object.fromEntries(
      sh([name, 'env'])
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    const get = (k: string): string => {
      const v = vars[k];
      if (!v) throw new Error(`lab.sh ${name} env: no ${k}`);
      return v;
    };
    return new Lab({
      name,
      cliNs: get('LAB_CLI_NS'),
      srvNs: get('LAB_SRV_NS'),
      cli1: get('LAB_CLI1'),
      cli2: get('LAB_CLI2'),
      srv1: get('LAB_SRV1'),
      srv2: get('LAB_SRV2'),
    });
  }

  /** Take path 1 or 2 down (client side) or bring it back. */
  link(path: 1 | 2, state: 'up' | 'down'): void {
    sh([this.env.name, 'link', String(path), state]);
  }

  rate(rate: string, which: '1' | '2' | 'both' = 'both'): void {
    sh([this.env.name, 'rate', rate, which]);
  }

  /** argv prefix that runs a command inside one of the lab's namespaces. */
  exec(side: 'cli' | 'srv'): string[] {
    return ['ip', 'netns', 'exec', side === 'cli' ? this.env.cliNs : this.env.srvNs];
  }

  /** Starts `cmd args` inside one of the lab's namespaces (`ip netns exec`). */
  start(side: 'cli' | 'srv', cmd: string, args: readonly string[]): Running {
    const [ip, ...prefix] = this.exec(side) as [string, ...string[]];
    return start(ip, [...prefix, cmd, ...args]);
  }

  down(): void {
    sh([this.env.name, 'down']);
    live.delete(this.env.name);
  }
}
