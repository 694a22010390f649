/** Hand-built unit objects for tests of single modules (engine tests load real unit files). */
import type { ExecCommand, ServiceUnit } from '@mptcp/unit';

export function cmd(argv: string[], extra: Partial<ExecCommand> = {}): ExecCommand {
  return {
    path: argv[0] as string,
    argv,
    ignoreFailure: false,
    noEnvExpand: false,
    fullPrivileges: false,
    noUserSwitch: false,
    ambientMagic: false,
    argv0Override: false,
    raw: argv.join(' '),
    file: '/dev/null',
    line: 1,
    ...extra,
  };
}

export function service(name: string, extra: Partial<ServiceUnit> = {}): ServiceUnit {
  return {
    kind: 'service',
    name,
    file: `/tmp/${name}`,
    dropIns: [],
    unit: {
      documentation: [],
      startLimitIntervalUsec: 10_000_000,
      startLimitBurst: 5,
      successAction: 'none',
      extra: {},
    },
    type: 'simple',
    execStartPre: [],
    execStart: [],
    execStartPost: [],
    execStop: [],
    execStopPost: [],
    environment: [],
    environmentFiles: [],
    supplementaryGroups: [],
    restart: 'no',
    restartUsec: 100_000,
    standardInput: 'null',
    standardOutput: 'inherit',
    standardError: 'inherit',
    killSignal: 'SIGTERM',
    finalKillSignal: 'SIGKILL',
    sendSIGKILL: true,
    killMode: 'control-group',
    timeoutStopUsec: 90_000_000,
    timeoutStartUsec: 90_000_000,
    nonBlocking: false,
    sockets: [],
    execReload: [],
    execCondition: [],
    remainAfterExit: false,
    extra: {},
    install: {},
    ...extra,
  };
}
