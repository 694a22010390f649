/**
 * The status page (HAProxy-stats style): one self-contained HTML document — inline CSS and script,
 * no external assets — rendered in the browser from the embedded snapshot, then refreshed every
 * second from /status.json. Per-path throughput is the difference of each subflow's byte counters
 * between two polls.
 */

const CSS = `
body{font:13px/1.35 system-ui,sans-serif;margin:0;background:#f4f4f4;color:#222}
header{background:#20304a;color:#fff;padding:8px 14px;display:flex;gap:18px;align-items:baseline}
header h1{font-size:17px;margin:0}header span{opacity:.85}
main{padding:10px 14px}
h2{font-size:14px;margin:16px 0 4px;color:#20304a}
table{border-collapse:collapse;background:#fff;min-width:50%;margin-bottom:6px}
th{background:#3b5278;color:#fff;font-weight:600;text-align:left;padding:3px 8px}
td{border-bottom:1px solid #ddd;padding:3px 8px;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.sub td{background:#f8fafc;color:#444}tr.sub td:first-child{padding-left:22px}
.ok{background:#c8f0c0}.warn{background:#fbe8a6}.bad{background:#f7b5b0}.idle{background:#e4e8ee}
.empty{color:#777;font-style:italic}
#err{color:#a00}
`;

const SCRIPT = `
'use strict';
let prev = null, updates = 0;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const cls = (s) => /^(active|listening|running|ESTAB|success|mptcp)$/.test(s) ? 'ok' : /fail|error|dead|timeout|signal|core-dump|exit-code|fallback/.test(s) ? 'bad' : /activating|deactivating|reloading|auto-restart|SYN|WAIT|CLOS/.test(s) ? 'warn' : 'idle';
const bytes = (n) => { n = Number(n); const u = ['B','KiB','MiB','GiB','TiB']; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return i ? n.toFixed(1) + ' ' + u[i] : n + ' B'; };
const rate = (bps) => bps === null ? '–' : bps >= 1e6 ? (bps * 8 / 1e6).toFixed(2) + ' Mbit/s' : (bps * 8 / 1e3).toFixed(1) + ' kbit/s';
function rows(tbody, list, cols, empty) {
  tbody.innerHTML = list.length ? list.join('') : '<tr><td class="empty" colspan="' + cols + '">' + empty + '</td></tr>';
}
function render(s) {
  const dt = prev ? (Date.parse(s.time) - Date.parse(prev.time)) / 1000 : 0;
  const before = new Map();
  if (prev) for (const c of prev.connections) for (const f of c.subflows) before.set(c.token + ' ' + f.local + ' ' + f.remote, f);
  $('meta').textContent = 'version ' + s.version + ', pid ' + s.pid + ', ' + s.time;
  rows($('sockets').tBodies[0], s.sockets.map((k) => {
    const per = { mptcp: 0, fallback: 0 };
    for (const c of s.connections) if (c.socket === k.unit) per[c.mode]++;
    return '<tr data-unit="' + esc(k.unit) + '"><td>' + esc(k.unit) + '</td><td class="' + cls(k.state) + '">' + esc(k.state) + '</td><td>' +
      k.listen.map((l) => esc(l.address) + ' <span class="' + cls(l.protocol) + '">' + esc(l.protocol) + '</span>').join('<br>') + '</td><td class="num">' + k.connections +
      '</td><td class="num">' + k.accepted + '</td><td class="num">' + k.refused + '</td><td class="num">' + k.activations + '</td><td class="num">' + per.mptcp + '</td><td class="num">' + per.fallback + '</td><td>' + esc(k.service || '–') + '</td></tr>';
  }), 10, 'no socket units');
  rows($('services').tBodies[0], s.services.map((v) => '<tr data-unit="' + esc(v.unit) + '"><td>' + esc(v.unit) + '</td><td class="' + cls(v.state) + '">' + esc(v.state) + '</td><td class="num">' + (v.pid || '–') +
    '</td><td class="num">' + v.restarts + '</td><td class="' + cls(v.result || 'success') + '">' + esc(v.result || 'success') + '</td></tr>'), 5, 'no services');
  const conns = [];
  for (const c of s.connections) {
    const subRows = [];
    let total = null;
    for (const f of c.subflows) {
      const old = before.get(c.token + ' ' + f.local + ' ' + f.remote);
      const bps = old && dt > 0 ? (Number(f.bytesSent) + Number(f.bytesReceived) - Number(old.bytesSent) - Number(old.bytesReceived)) / dt : null;
      if (bps !== null) total = (total || 0) + bps;
      subRows.push('<tr class="sub" data-token="' + c.token + '"><td>subflow ' + f.localId + '/' + f.remoteId + (f.backup ? ' backup' : '') + '</td><td class="' + cls(f.state) + '">' + esc(f.state) + '</td><td>' + esc(f.local) + ' ⇄ ' + esc(f.remote) +
        '</td><td>' + (f.rttMs === null ? '' : 'rtt ' + f.rttMs.toFixed(2) + ' ms') + '</td><td></td><td class="num">' + bytes(f.bytesSent) + '</td><td class="num">' + bytes(f.bytesReceived) + '</td><td class="num rate">' + rate(bps) + '</td><td></td></tr>');
    }
    conns.push('<tr class="conn" data-token="' + c.token + '"><td>' + c.token + '</td><td class="' + cls(c.state) + '">' + esc(c.state) + '</td><td>' + esc(c.local) + ' ⇄ ' + esc(c.remote) +
      '</td><td class="' + cls(c.mode) + '">' + c.mode + '</td><td class="num">' + c.subflows.length + '</td><td class="num">' + bytes(c.bytesSent) + '</td><td class="num">' + bytes(c.bytesReceived) + '</td><td class="num rate">' + rate(total) + '</td><td>' + esc(c.socket || '–') + '</td></tr>', ...subRows);
  }
  rows($('connections').tBodies[0], conns, 9, 'no MPTCP connections');
  const eps = s.endpoints || [];
  $('limits').textContent = s.limits ? 'limits: subflows ' + s.limits.subflows + ', add_addr_accepted ' + s.limits.addAddrAccepted + (s.managedEndpoints !== null ? '; ' + s.managedEndpoints + ' managed by --endpoints auto' : '') : 'path manager unreadable';
  rows($('endpoints').tBodies[0], eps.map((e) => '<tr><td class="num">' + e.id + '</td><td>' + esc(e.address) + (e.port ? ':' + e.port : '') + '</td><td>' + esc(e.flags.join(' ')) + '</td><td>' + esc(e.dev || e.ifindex || '–') + '</td></tr>'), 4, 'no endpoints: connections stay single-path');
  const keys = ['MPCapableSYNRX', 'MPCapableSYNTX', 'MPCapableFallbackACK', 'MPCapableFallbackSYNACK', 'MPJoinSynRx', 'MPJoinSynTx', 'MPJoinAckRx', 'MPJoinRejected', 'AddAddr', 'AddAddrTx', 'RmAddr', 'RmSubflow', 'MPFailTx', 'MPRstTx', 'MPCurrEstab'];
  rows($('kernel').tBodies[0], keys.filter((k) => k in s.kernel).map((k) => '<tr><td>' + k + '</td><td class="num">' + s.kernel[k] + '</td></tr>'), 2, 'no MPTCP counters (kernel without MPTCP MIB)');
  $('err').textContent = s.errors.join('; ');
  prev = s;
}
async function poll() {
  try {
    const r = await fetch('status.json', { cache: 'no-store' });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    render(await r.json());
    updates++;
    $('live').textContent = 'live: ' + updates + ' update' + (updates === 1 ? '' : 's');
    $('live').dataset.updates = String(updates);
  } catch (e) {
    $('live').textContent = 'not updating: ' + e.message;
  }
  setTimeout(poll, 1000);
}
render(JSON.parse(document.getElementById('initial').textContent));
setTimeout(poll, 1000);
`;

const table = (id: string, heads: string[]): string =>
  `<table id="${id}"><thead><tr>${heads.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody></tbody></table>`;

/** The page with `snapshotJson` (a JSON text) embedded as its first state. */
export function statusPage(snapshotJson: string): string {
  // `</` cannot end the script element from inside the JSON.
  const embedded = snapshotJson.replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>mptcpd-lite status</title><style>${CSS}</style></head>
<body><header><h1>mptcpd-lite</h1><span id="meta"></span><span id="live" data-updates="0">live: waiting</span></header>
<main><noscript>This page needs JavaScript; the same data: <a href="status.json">status.json</a>, <a href="metrics">metrics</a>.</noscript>
<h2>Sockets</h2>${table('sockets', ['Socket', 'State', 'Listen (protocol)', 'Conns', 'Accepted', 'Refused', 'Triggers', 'MPTCP', 'Fallback', 'Service'])}
<h2>Services</h2>${table('services', ['Service', 'State', 'PID', 'Restarts', 'Result'])}
<h2>MPTCP connections</h2>${table('connections', ['Token / subflow', 'State', 'Local ⇄ remote', 'Mode', 'Subflows', 'Sent', 'Received', 'Throughput', 'Socket'])}
<h2>Path manager</h2><p id="limits"></p>${table('endpoints', ['Id', 'Address', 'Flags', 'Interface'])}
<h2>Kernel MPTCP counters</h2>${table('kernel', ['Counter', 'Value'])}
<p id="err"></p></main>
<script type="application/json" id="initial">${embedded}</script>
<script>${SCRIPT}</script></body></html>
`;
}
