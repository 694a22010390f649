/**
 * `daemon-reload` for the engine's sockets: what a new set of units changes, with the rule that
 * nothing that serves is closed (see ActivationEngine.reload()).
 */
import type { SocketUnit } from '@mptcp/unit';
import type { EngineCore } from './engine-core.js';
import type { EngineUnits, ReloadReport } from './engine-types.js';
import { templateNameFor } from './instance-name.js';
import { applyRuntimeLimits } from './limits.js';
import { type SocketRuntimes, carriedFrom, keyOf, serving, socketIdentity } from './socket-runtime.js';
import { hasExecCommands } from './socket-steps.js';
import { type UnitDefinitions, serviceNameOf } from './unit-definitions.js';

/**
 * `units` plus every serving socket it lacks, and the service or template those sockets need, all
 * with their current definitions (systemd keeps an active unit loaded whatever its file became).
 */
export function keepServing(
  core: EngineCore,
  table: SocketRuntimes,
  defs: UnitDefinitions,
  units: EngineUnits,
): EngineUnits {
  const { log } = core;
  const sockets = [...units.sockets];
  const services = [...(units.services ?? [])];
  const templates = [...(units.templates ?? [])];
  const names = new Set(sockets.map((u) => u.name));
  for (const sock of table.values()) {
    if (names.has(sock.unit.name) || !serving(sock)) continue;
    log.warn('Unit file is gone or failed to load; the socket keeps serving with its previous configuration.', {
      unit: sock.unit.name,
    });
    sockets.push(sock.pending ?? sock.unit);
  }
  const serviceNames = new Set(services.map((s) => s.name));
  const templateNames = new Set(templates.map((t) => t.name));
  for (const unit of sockets) {
    const sock = table.get(unit.name);
    if (!sock || !serving(sock)) continue;
    if (unit.accept) {
      const t = templateNameFor(unit.name);
      const old = defs.templates.get(t);
      if (!templateNames.has(t) && old) {
        log.warn(`${t} is gone or failed to load; new connections keep using its previous configuration.`, {
          unit: unit.name,
        });
        templates.push(old);
        templateNames.add(t);
      }
    } else {
      const n = serviceNameOf(unit);
      const old = defs.services.get(n);
      if (!serviceNames.has(n) && old) {
        log.warn(`${n} is gone or failed to load; the socket keeps activating its previous configuration.`, {
          unit: unit.name,
        });
        services.push(old);
        serviceNames.add(n);
      }
    }
  }
  return { sockets, services, templates };
}

/** Applies `units` (already passed through keepServing()) to the socket runtimes. */
export function reloadSockets(core: EngineCore, table: SocketRuntimes, units: EngineUnits): ReloadReport {
  const report: ReloadReport = { listening: [], failed: [], kept: [], reopened: [], removed: [] };
  const wanted = new Map(units.sockets.map((u) => [u.name, u]));
  for (const [name, sock] of table.entries()) {
    // A failed socket whose Accept=yes instances still run stays listed: they are tracked and stopped.
    if (wanted.has(name) || sock.instances.size > 0) continue;
    // Stopped as `stop` does (ExecStopPre=/ExecStopPost= included; settled() waits for them).
    void table.stop(sock);
    table.delete(name);
    report.removed.push(name);
  }
  for (const unit of units.sockets) {
    const sock = table.get(unit.name);
    if (sock && sock.state !== 'failed' && sock.state !== 'dead' && keyOf(sock) === socketIdentity(unit)) {
      sock.unit = unit;
      delete sock.pending;
      applyRuntimeLimits(sock, unit);
      report.kept.push(unit.name);
      report.listening.push(unit.name);
      continue;
    }
    if (sock && (sock.busy !== undefined || (serving(sock) && hasExecCommands(unit)))) {
      // A socket with control commands is not reopened behind their back (systemd applies new
      // socket settings at the next start), nor one that is starting or stopping. Its commands and
      // their exec settings (kept in `extra`) apply from the next step on; other socket settings
      // (Listen=, options) wait for the next start.
      const fdsOf = (u: SocketUnit): string => socketIdentity({ ...u, extra: {} });
      if (fdsOf(sock.opened) === fdsOf(unit)) {
        sock.unit = unit;
        applyRuntimeLimits(sock, unit);
      } else sock.pending = unit;
      report.kept.push(unit.name);
      if (serving(sock)) report.listening.push(unit.name);
      continue;
    }
    if (sock && serving(sock) && sock.lent) {
      // The service holds these fds: closing them would refuse connections (and a reopen on the
      // same address fails with EADDRINUSE). The new settings wait for the service to exit.
      sock.pending = unit;
      applyRuntimeLimits(sock, unit);
      core.log.warn(
        'Socket settings changed while its service holds the sockets; the new settings apply when the service has exited.',
        { unit: unit.name },
      );
      report.kept.push(unit.name);
      report.listening.push(unit.name);
      continue;
    }
    if (sock && serving(sock)) {
      table.reopen(sock, unit, report);
      continue;
    }
    if (sock) {
      table.close(sock);
      table.delete(unit.name);
      report.reopened.push(unit.name);
    }
    table.open(unit, report, sock ? carriedFrom(sock) : undefined);
  }
  return report;
}
