/**
 * The systemd 257 conformance corpus: unit sets (a directory each) that cover every directive
 * @mptcp/unit parses or checks, every value parser's error cases, every Listen kind, both Accept
 * modes, drop-ins, specifiers, templates/instances, masked/aliased units and missing services/files.
 * scripts/record-257.mjs writes them to test/fixtures/v257/ and records systemd 257's verify output.
 *
 * A case: { name, files: { relPath: text | { symlink: target } }, verify: [relPath...] }.
 */

/** One value per parser error class (and a few that must pass). */
export const TOKENS = [
  '',
  'yes',
  'x',
  '-1',
  '0',
  '1',
  '08',
  '0x10',
  '4294967296',
  '18446744073709551616',
  '1k',
  '3.5K',
  '5s',
  '1min 30s',
  'infinity',
  '0644',
  '9',
  '/a/../b',
  'rel',
  '/run/x',
  '%Z',
  '%n',
  'nobody',
  '2147483648',
  '4294967295',
  '65535',
  'a:b',
  'mptcp',
  'tcp',
  'udplite',
  'sctp',
  'foo.service',
  'x@.service',
  'both',
  'low-delay',
  'SIGTERM',
  'on-failure',
  'journal',
  'simple',
  'mixed',
  'A=b "C=d e"',
];

/** Keys whose bad value is fatal: parsing stops there, so every token gets a unit of its own. */
export const FATAL_KEYS = new Set([
  'User',
  'Group',
  'SocketUser',
  'SocketGroup',
  'SupplementaryGroups',
  'WorkingDirectory',
  'ExecStart',
  'RootDirectory',
  'RootImage',
  'RootVerity',
  'DynamicUser',
  'PrivateTmp',
]);

const SOCKET_HEAD = (port) => `[Socket]\nListenStream=127.0.0.1:${port}\n`;
const SERVICE = '[Service]\nExecStart=/bin/true\n';

function safeName(key) {
  return key.replace(/[^A-Za-z0-9]/g, '_');
}

/**
 * Directive cases: for each section, one unit per key with every token (and, for keys whose bad value
 * is fatal, one unit per token).
 */
export function directiveCases(keys) {
  const cases = [];
  for (const [section, list] of Object.entries(keys)) {
    const files = {};
    const verify = [];
    let port = 19000 + (section === 'Socket' ? 0 : section === 'Service' ? 2000 : 4000);
    const add = (stem, lines) => {
      port++;
      if (section === 'Service') {
        files[`${stem}.service`] = `[Service]\nExecStart=/bin/true\n${lines}`;
        verify.push(`${stem}.service`);
      } else if (section === 'Unit') {
        files[`${stem}.socket`] = `[Unit]\n${lines}${SOCKET_HEAD(port)}`;
        files[`${stem}.service`] = SERVICE;
        verify.push(`${stem}.socket`);
      } else {
        files[`${stem}.socket`] = `${SOCKET_HEAD(port)}${lines}`;
        files[`${stem}.service`] = SERVICE;
        verify.push(`${stem}.socket`);
      }
    };
    for (const key of [...list].sort()) {
      const stem = `k-${section.toLowerCase()}-${safeName(key)}`;
      add(stem, TOKENS.map((t) => `${key}=${t}\n`).join(''));
      if (FATAL_KEYS.has(key)) TOKENS.forEach((t, i) => add(`${stem}-${i}`, `${key}=${t}\n`));
    }
    cases.push({ name: `directives-${section.toLowerCase()}`, files, verify });
  }
  return cases;
}

/** Hand-written scenarios: the load rules and unit-level lines. */
export const SCENARIOS = [
  {
    name: 'listen-kinds',
    files: {
      'stream.socket':
        '[Socket]\nListenStream=127.0.0.1:19501\nListenStream=[::1]:19502\nListenStream=19503\nListenStream=/run/b257-stream.sock\nListenStream=@b257-abstract\nListenStream=vsock:2:1234\nListenStream=vsock::1234\nListenStream=[fe80::1]:80%%lo\nListenStream=[fe80::1]:80%%nosuchif0\nListenStream=0.0.0.0:65536\nListenStream=300.1.1.1:80\nListenStream=/var/run/b257.sock\n',
      'stream.service': SERVICE,
      'dgram.socket':
        '[Socket]\nListenDatagram=127.0.0.1:19511\nListenDatagram=/run/b257-dgram.sock\nListenDatagram=@b257-dg\nSocketProtocol=mptcp\n',
      'dgram.service': SERVICE,
      'seq.socket':
        '[Socket]\nListenSequentialPacket=/run/b257-seq.sock\nListenSequentialPacket=127.0.0.1:19512\nListenSequentialPacket=@b257-seq\n',
      'seq.service': SERVICE,
      'fifo.socket':
        '[Socket]\nListenFIFO=/run/b257.fifo\nListenFIFO=rel.fifo\nListenFIFO=/var/run/b257.fifo\nPipeSize=64K\nPipeSize=x\n',
      'fifo.service': SERVICE,
      'special.socket':
        '[Socket]\nListenSpecial=/dev/kmsg\nListenSpecial=/proc/kmsg\nListenSpecial=rel\nListenSpecial=/a/../b\nListenSpecial=/run/%n\n',
      'special.service': SERVICE,
      'netlink.socket':
        '[Socket]\nListenNetlink=kobject-uevent 1\nListenNetlink=route\nListenNetlink=route 1\nListenNetlink=bogus 1\nListenNetlink=audit x\nListenNetlink=\n',
      'netlink.service': SERVICE,
      'mqueue.socket':
        '[Socket]\nListenMessageQueue=/b257q\nListenMessageQueue=noslash\nMessageQueueMaxMessages=10\nMessageQueueMessageSize=x\n',
      'mqueue.service': SERVICE,
      'usb.socket': '[Socket]\nListenUSBFunction=/run/usb-ffs\nListenUSBFunction=rel\n',
      'usb.service': SERVICE,
      'nolisten.socket': '[Socket]\nAccept=no\n',
      'nolisten.service': SERVICE,
      'reset.socket': '[Socket]\nListenStream=127.0.0.1:19513\nListenStream=\n',
      'reset.service': SERVICE,
    },
    verify: [
      'stream.socket',
      'dgram.socket',
      'seq.socket',
      'fifo.socket',
      'special.socket',
      'netlink.socket',
      'mqueue.socket',
      'usb.socket',
      'nolisten.socket',
      'reset.socket',
    ],
  },
  {
    name: 'protocol',
    files: {
      'mptcp.socket': '[Socket]\nListenStream=127.0.0.1:19521\nSocketProtocol=mptcp\n',
      'mptcp.service': SERVICE,
      'mptcp-unix.socket': '[Socket]\nListenStream=/run/b257-mptcp.sock\nSocketProtocol=mptcp\n',
      'mptcp-unix.service': SERVICE,
      'protos.socket':
        '[Socket]\nListenStream=127.0.0.1:19522\nSocketProtocol=tcp\nSocketProtocol=udp\nSocketProtocol=bogus\nSocketProtocol=MPTCP\nSocketProtocol=262\nSocketProtocol=\nSocketProtocol=sctp\nSocketProtocol=udplite\nSocketProtocol=icmp\nSocketProtocol=ip\n',
      'protos.service': SERVICE,
      'fallback.socket':
        '[Socket]\nListenStream=127.0.0.1:19523\nSocketProtocol=mptcp\nX-MPTCPFallback=yes\nX-MPTCPFallback=maybe\n',
      'fallback.service': SERVICE,
    },
    verify: ['mptcp.socket', 'mptcp-unix.socket', 'protos.socket', 'fallback.socket'],
  },
  {
    name: 'accept',
    files: {
      'acc.socket': '[Socket]\nListenStream=127.0.0.1:19531\nAccept=yes\nMaxConnections=5\nMaxConnectionsPerSource=2\n',
      'acc@.service': '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n',
      'acc-nosvc.socket': '[Socket]\nListenStream=127.0.0.1:19532\nAccept=yes\n',
      'acc-nosvc.service': SERVICE,
      'acc-dgram.socket': '[Socket]\nListenDatagram=127.0.0.1:19533\nAccept=yes\n',
      'acc-dgram@.service': SERVICE,
      'acc-fifo.socket': '[Socket]\nListenFIFO=/run/b257-acc.fifo\nAccept=yes\n',
      'acc-fifo@.service': SERVICE,
      'maxconn0.socket': '[Socket]\nListenStream=127.0.0.1:19534\nMaxConnections=0\n',
      'maxconn0.service': SERVICE,
      'maxconn0-acc.socket': '[Socket]\nListenStream=127.0.0.1:19535\nAccept=yes\nMaxConnections=0\n',
      'maxconn0-acc@.service': SERVICE,
      'acc-service.socket': '[Socket]\nListenStream=127.0.0.1:19536\nAccept=yes\nService=acc-service.service\n',
      'acc-service.service': SERVICE,
      'acc-service@.service': SERVICE,
      'svc-template.socket': '[Socket]\nListenStream=127.0.0.1:19537\nService=tmpl@.service\n',
      'svc-template.service': SERVICE,
      'tmpl@.service': SERVICE,
      'svc-instance.socket': '[Socket]\nListenStream=127.0.0.1:19538\nService=tmpl@one.service\n',
      'svc-instance.service': SERVICE,
      'svc-other.socket': '[Socket]\nListenStream=127.0.0.1:19539\nService=other.service\n',
      'other.service': SERVICE,
      'svc-missing.socket': '[Socket]\nListenStream=127.0.0.1:19540\nService=missing.service\n',
      'svc-bad.socket': '[Socket]\nListenStream=127.0.0.1:19541\nService=x.target\nService=-bad-\nService=%n\n',
      'svc-bad.service': SERVICE,
      'writable.socket': '[Socket]\nListenStream=127.0.0.1:19542\nWritable=yes\n',
      'writable.service': SERVICE,
      'writable-fifo.socket': '[Socket]\nListenFIFO=/run/b257-w.fifo\nWritable=yes\n',
      'writable-fifo.service': SERVICE,
    },
    verify: [
      'acc.socket',
      'acc-nosvc.socket',
      'acc-dgram.socket',
      'acc-fifo.socket',
      'maxconn0.socket',
      'maxconn0-acc.socket',
      'acc-service.socket',
      'svc-template.socket',
      'svc-instance.socket',
      'svc-other.socket',
      'svc-missing.socket',
      'svc-bad.socket',
      'writable.socket',
      'writable-fifo.socket',
    ],
  },
  {
    name: 'dropins',
    files: {
      'd.socket': '[Socket]\nListenStream=127.0.0.1:19551\n',
      'd.service': SERVICE,
      'd.socket.d/10-good.conf': '[Socket]\nBacklog=12\n',
      'd.socket.d/20-badheader.conf': '[Socket\nBacklog=13\n',
      'd.socket.d/30-badvalue.conf': '[Socket]\nBacklog=x\nNoSuchKey=1\n',
      'd.socket.d/40-unknown-section.conf': '[Bogus]\nA=b\n[Socket]\nNoDelay=yes\n',
      'd.socket.d/not-conf.txt': '[Socket]\nBacklog=y\n',
      'e.socket': '[Socket]\nListenStream=127.0.0.1:19552\n',
      'e.service': SERVICE,
      'e.socket.d/a.conf': 'Backlog=1\n',
      'f.socket': '[Socket]\nListenStream=127.0.0.1:19553\n',
      'f.service': SERVICE,
      'f.socket.d/a.conf': '[Socket]\nListenStream=\nListenStream=127.0.0.1:19554\nSocketProtocol=mptcp\n',
      'socket.d/zz-global.conf': '[Socket]\nKeepAlive=maybe\n',
      'g-h.socket': '[Socket]\nListenStream=127.0.0.1:19555\n',
      'g-h.service': SERVICE,
      'g-.socket.d/p.conf': '[Socket]\nPriority=x\n',
      'm.socket': '[Socket]\nListenStream=127.0.0.1:19556\n',
      'm.service': SERVICE,
      'm.socket.d/masked.conf': { symlink: '/dev/null' },
      'n.socket': '[Socket]\nListenStream=127.0.0.1:19557\n',
      'n.service': SERVICE,
      'n.socket.d/x.conf': '[Socket]\nUser=a:b\n',
    },
    verify: ['d.socket', 'e.socket', 'f.socket', 'g-h.socket', 'm.socket', 'n.socket'],
  },
  {
    name: 'specifiers',
    files: {
      's.socket':
        '[Unit]\nDescription=%n %N %p %i %I %j %J %f %H %l %m %b %v %o %w %W %A %B %a %U %u %g %G %T %V %E %S %C %L %t %s %h %y %Y %q %d %%\n[Socket]\nListenStream=/run/%N.sock\nFileDescriptorName=%p\nSymlinks=/run/%p-link\nListenStream=/run/%Z\nFileDescriptorName=%Q\nService=%p.service\n',
      's.service': SERVICE,
      'long.socket': `[Socket]\nListenStream=127.0.0.1:19561\nService=${'a'.repeat(250)}%n\nListenFIFO=/run/${'b'.repeat(250)}%n\nSymlinks=/run/${'c'.repeat(300)}\nFileDescriptorName=${'d'.repeat(240)}%n\n`,
      'long.service': SERVICE,
      'sp@.socket': '[Socket]\nListenStream=/run/sp-%i.sock\nService=sp-%i.service\n',
      'sp-i.service': SERVICE,
      'sp@.service': SERVICE,
      'e.service': '[Service]\nExecStart=/bin/echo %n %i %Z\n',
      'env.service': '[Service]\nExecStart=/bin/true\nEnvironment=A=%n B=%Z\nEnvironment=%%=1 BAD-KEY=1\n',
    },
    verify: ['s.socket', 'long.socket', 'sp@.socket', 'e.service', 'env.service'],
  },
  {
    name: 'templates',
    files: {
      't@.socket': '[Socket]\nListenStream=/run/t-%i.sock\n',
      't@.service': SERVICE,
      't@inst.socket': { symlink: 't@.socket' },
      'u@.service': '[Service]\nExecStart=/bin/echo %i\nUser=%i\n',
      'v@.socket': '[Socket]\nListenStream=127.0.0.1:19571\nAccept=yes\n',
      'v@.service': SERVICE,
    },
    verify: ['t@.socket', 't@.service', 't@inst.socket', 'u@.service', 'v@.socket'],
  },
  {
    name: 'words',
    files: {
      'w.socket':
        '[Unit]\nAfter="x\nWants=a.service "b\nDocumentation=%i http://a\nDocumentation="unterminated\nDocumentation=man:x(1) rel\n[Socket]\nListenStream=/run/w.sock\nSymlinks="x\nSymlinks=/run/a "b\n',
      'w.service':
        '[Service]\nExecStart=/bin/true\nEnvironment="A=1\nSockets="x\nSupplementaryGroups="x\nSockets=a.socket "b\nUser="x\n',
      's1.socket': '[Socket]\nListenStream=/run/s1.sock\nSymlinks=/run/s1-a /run/s1-b\nSymlinks=rel /a/../b\n',
      's1.service': SERVICE,
    },
    verify: ['w.socket', 'w.service', 's1.socket'],
  },
  {
    name: 'unit-state',
    files: {
      'empty.socket': '',
      'devnull.socket': { symlink: '/dev/null' },
      'masked-svc.socket': '[Socket]\nListenStream=127.0.0.1:19581\n',
      'masked-svc.service': { symlink: '/dev/null' },
      'alias.socket': { symlink: 'real.socket' },
      'real.socket': '[Socket]\nListenStream=127.0.0.1:19582\n',
      'real.service': SERVICE,
      'nosvc.socket': '[Socket]\nListenStream=127.0.0.1:19583\n',
      'dangling.socket': { symlink: 'does-not-exist.socket' },
      'notexec.service':
        '[Service]\nExecStart=/nonexistent/bin\nExecStartPre=-/nonexistent/pre\nExecStop=/etc/passwd\n',
      'noexec.service': '[Service]\nType=simple\n',
      'oneshot.service': '[Service]\nType=oneshot\n',
      'nobody.service': '[Service]\nExecStart=/bin/true\nUser=nobody\n',
      'nobody.socket': '[Socket]\nListenStream=127.0.0.1:19584\nSocketUser=nobody\nSocketGroup=nogroup\n',
      'nobody-svc.service': '[Service]\nExecStart=/bin/true\nUser=nobody\nGroup=nobody\n',
      'uid.service': '[Service]\nExecStart=/bin/true\nUser=2147483648\n',
      'uid2.service': '[Service]\nExecStart=/bin/true\nUser=4294967295\n',
      'uid3.service': '[Service]\nExecStart=/bin/true\nUser=65535\n',
      'uid4.service': '[Service]\nExecStart=/bin/true\nUser=4294967294\n',
      'uid5.service': '[Service]\nExecStart=/bin/true\nUser=2147483647\n',
      'gid.service': '[Service]\nExecStart=/bin/true\nGroup=2147483648\n',
      'bad name!.socket': '[Socket]\nListenStream=127.0.0.1:19585\n',
      'syntax.socket': '[Socket]\nListenStream=127.0.0.1:19586\nnot a key value\n[Socket\nBacklog=3\n',
      'nosection.socket': 'ListenStream=127.0.0.1:19587\n',
      'unknown.socket': '[Socket]\nListenStream=127.0.0.1:19588\nFooBar=1\nX-Foo=1\n[X-Section]\nA=1\n[Bogus]\nB=1\n',
      'nosection.service': SERVICE,
      'syntax.service': SERVICE,
      'unknown.service': SERVICE,
      'nobody.service.d/x.conf': '[Service]\nUser=daemon\n',
    },
    verify: [
      'empty.socket',
      'devnull.socket',
      'masked-svc.socket',
      'alias.socket',
      'nosvc.socket',
      'dangling.socket',
      'missing.socket',
      'notexec.service',
      'noexec.service',
      'oneshot.service',
      'nobody.service',
      'nobody.socket',
      'nobody-svc.service',
      'uid.service',
      'uid2.service',
      'uid3.service',
      'uid4.service',
      'uid5.service',
      'gid.service',
      'bad name!.socket',
      'syntax.socket',
      'nosection.socket',
      'unknown.socket',
    ],
  },
  {
    // Scheduling and process attributes (src/values/exec-scheduling.ts): good, bad, out of range, resets.
    name: 'exec-scheduling',
    files: {
      'cpu.service': `${SERVICE}${[
        'CPUSchedulingPolicy=fifo',
        'CPUSchedulingPolicy=bogus',
        'CPUSchedulingPolicy=7',
        'CPUSchedulingPolicy=',
        'CPUSchedulingPolicy=0x2',
        'CPUSchedulingPriority=99',
        'CPUSchedulingPriority=100',
        'CPUSchedulingPriority=-1',
        'CPUSchedulingPriority=abc',
        'CPUSchedulingPriority=',
        'CPUSchedulingPriority= 5',
        'CPUSchedulingResetOnFork=maybe',
        'CPUSchedulingResetOnFork=yes',
      ]
        .map((l) => `${l}\n`)
        .join('')}`,
      'io.service': `${SERVICE}${[
        'IOSchedulingClass=realtime',
        'IOSchedulingClass=fast',
        'IOSchedulingClass=8',
        'IOSchedulingClass=9',
        'IOSchedulingClass=',
        'IOSchedulingClass=-1',
        'IOSchedulingPriority=7',
        'IOSchedulingPriority=8',
        'IOSchedulingPriority=x',
        'IOSchedulingPriority=-1',
        'IOSchedulingPriority=',
      ]
        .map((l) => `${l}\n`)
        .join('')}`,
      'affinity.service': `${SERVICE}${[
        'CPUAffinity=0-1 3,5',
        'CPUAffinity=a-b',
        'CPUAffinity=3-1',
        'CPUAffinity=0,1 x',
        'CPUAffinity="1',
        'CPUAffinity=1-',
        'CPUAffinity=-1',
        'CPUAffinity=numa',
        'CPUAffinity=',
        'CPUAffinity=8192',
        'CPUAffinity="0 1"',
      ]
        .map((l) => `${l}\n`)
        .join('')}`,
      'misc.service': `${SERVICE}${[
        'TimerSlackNSec=50us',
        'TimerSlackNSec=abc',
        'TimerSlackNSec=-5',
        'TimerSlackNSec=',
        'TimerSlackNSec=infinity',
        'TimerSlackNSec=1.5ms',
        'TimerSlackNSec=1.ms',
        'TimerSlackNSec=12.34.56',
        'CoredumpFilter=default private-dax',
        'CoredumpFilter=bogus',
        'CoredumpFilter=0xzz',
        'CoredumpFilter=40 all',
        'CoredumpFilter=',
        'Personality=x86',
        'Personality=x86-64',
        'Personality=sparc',
        'Personality=arm64',
        'Personality=',
      ]
        .map((l) => `${l}\n`)
        .join('')}`,
    },
    verify: ['cpu.service', 'io.service', 'affinity.service', 'misc.service'],
  },
  {
    // Exec-context values 257 range-checks (Nice=, OOMScoreAdjust=, Limit*=) and exit-status lists.
    name: 'exec-values',
    files: {
      'nice.service': `${SERVICE}Nice=-20\nNice=19\nNice=20\nNice=-21\nNice=+5\nNice=abc\nNice=\nNice=0x10\n`,
      'oom.service': `${SERVICE}OOMScoreAdjust=-1000\nOOMScoreAdjust=1000\nOOMScoreAdjust=1001\nOOMScoreAdjust=-1001\nOOMScoreAdjust=x\nOOMScoreAdjust=\n`,
      'limits.service': `${SERVICE}${[
        'LimitNOFILE=infinity',
        'LimitNOFILE=1024:4096',
        'LimitNOFILE=4096:1024',
        'LimitNOFILE=bad',
        'LimitNOFILE=1024:bad',
        'LimitNOFILE=1:2:3',
        'LimitNOFILE=',
        'LimitNOFILE=-1',
        'LimitNOFILE=1024:infinity',
        'LimitNOFILE=infinity:1024',
        'LimitCPU=1min',
        'LimitCPU=x',
        'LimitAS=1G',
        'LimitAS=1Q',
        'LimitNICE=-20',
        'LimitNICE=+20',
        'LimitNICE=41',
        'LimitNICE=40',
        'LimitRTTIME=5s',
        'LimitRTTIME=y',
        'LimitNPROC=18446744073709551615',
      ]
        .map((l) => `${l}\n`)
        .join('')}`,
      'exit.service': `${SERVICE}${[
        'SuccessExitStatus=0 255 256 SIGTERM bogus',
        'SuccessExitStatus=TERM 1 SIGUSR1 foo',
        'RestartPreventExitStatus=256',
        'RestartForceExitStatus=SIGKILL 64 x -1',
        'SuccessExitStatus=',
        'SuccessExitStatus=FAILURE SIGRTMIN+1 65 sigterm',
      ]
        .map((l) => `${l}\n`)
        .join('')}`,
      'exec.socket':
        '[Socket]\nListenStream=127.0.0.1:19591\nNice=99\nOOMScoreAdjust=-2000\nLimitNOFILE=x\nLimitNOFILE=8:4\n',
      'exec.service': SERVICE,
      'q.service':
        '[Unit]\nDescription=x %i %n\nAfter=network.target\nRequires=\nStartLimitBurst=abc\nStartLimitIntervalSec=5s\n[Service]\nType=notify-reload\nExecStart=@/bin/sh sh -c "echo %%"\nExecStart=relative\nExecStartPre=!!/bin/true\nExecStop=:/bin/false\nExecReload=/bin/kill -HUP $MAINPID\nEnvironment="A=1" B=2 C\nEnvironmentFile=-/nonexistent\nRestart=on-abnormal\nRestartSec=1min 30s\nRestartSec=bogus\nTimeoutStopSec=infinity\nTimeoutSec=3\nWatchdogSec=10\nNotifyAccess=everything\nKillMode=mixed\nKillSignal=SIGFOO\nFileDescriptorStoreMax=-1\nFileDescriptorStorePreserve=sometimes\nUser=0bad\nGroup=nogroup\nWorkingDirectory=~\nStandardOutput=file:relative\nStandardError=append:/tmp/x\nLimitNOFILE=1024:bad\nNice=40\nUMask=0999\nSuccessExitStatus=1 SIGUSR1 foo\nRestartPreventExitStatus=256\nOOMScoreAdjust=2000\nReloadSignal=SIGHUP\nExitType=cgroup\n[Install]\nWantedBy=multi-user.target\n',
    },
    verify: ['nice.service', 'oom.service', 'limits.service', 'exit.service', 'exec.socket', 'q.service'],
  },
];
