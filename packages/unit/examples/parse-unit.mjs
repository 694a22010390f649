// Run from packages/unit after the build: node examples/parse-unit.mjs
import { parseUnitText, formatDiagnostic, serviceNameFor } from '@mptcp/unit';

const text = `[Unit]
Description=Echo over MPTCP on %H

[Socket]
ListenStream=[::]:7
SocketProtocol=mptcp
Backlog=0x80
Accept=yes
KeepAliveTimeSec=1min 30s
FooBar=1
X-MPTCPFallback=yes
`;

const { unit, diagnostics, fatal } = parseUnitText(text, { file: '/etc/systemd/system/echo.socket' });
for (const d of diagnostics) console.log(formatDiagnostic(d));
if (!fatal && unit?.kind === 'socket') {
  console.log(unit.socketProtocol, unit.backlog, unit.keepAliveTimeUsec, unit.mptcpFallback);
  console.log(unit.listen[0].address);
  console.log(serviceNameFor(unit, '0-::1:7-::1:40000'));
}
