/**
 * The unit definitions the engine runs with: services by name and Accept=yes templates (read into
 * memory once per load), the instances an Accept=no socket needs from a template, and systemd's
 * rule that a socket whose service is not loaded does not start.
 */
import { type ServiceUnit, type SocketUnit, searchPathListing, serviceNameFor, templateOf } from '@mptcp/unit';
import type { EngineUnits, ServiceTemplate } from './engine-types.js';
import { ActivationError, messageOf } from './errors.js';
import { templateNameFor } from './instance-name.js';
import type { Logger } from './logger.js';
import {
  type SnapshotCache,
  type TemplateResolver,
  instanceLoadWarnings,
  isServiceUnit,
  snapshotTemplate,
} from './templates.js';

/** Accept=no service name: Service= or the socket's own name with `.service`. */
export function serviceNameOf(socket: SocketUnit): string {
  return serviceNameFor({ name: socket.name, accept: false, ...(socket.service ? { service: socket.service } : {}) });
}

export class UnitDefinitions {
  readonly services = new Map<string, ServiceUnit>();
  readonly templates = new Map<string, ServiceTemplate>();

  constructor(
    private readonly log: Logger,
    readonly instantiate: TemplateResolver,
  ) {}

  /** Replaces the definitions with `units`'; a template that no longer loads keeps its previous text. */
  set(units: EngineUnits): void {
    this.services.clear();
    for (const s of units.services ?? []) this.services.set(s.name, s);
    const previous = new Map(this.templates);
    this.templates.clear();
    // One listing of the search paths and one executable check per path for all templates.
    const shared: SnapshotCache = { listing: searchPathListing(), executables: new Map() };
    for (const t of units.templates ?? []) {
      const loaded = this.loadTemplate(t, previous.get(t.name), shared);
      if (loaded) this.templates.set(t.name, loaded);
    }
  }

  /**
   * A template read into memory once (instances never touch the disk). One that no longer loads
   * keeps its previous text, with a warning, so that its socket keeps serving.
   */
  private loadTemplate(
    t: ServiceTemplate | ServiceUnit,
    previous: ServiceTemplate | undefined,
    shared?: SnapshotCache,
  ): ServiceTemplate | undefined {
    if (isServiceUnit(t) || t.text !== undefined || !t.file) return t;
    try {
      return snapshotTemplate(t, shared);
    } catch (err) {
      if (previous) {
        this.log.warn(`${messageOf(err)}; new connections keep using its previous configuration.`, { unit: t.name });
        return previous;
      }
      this.log.error(messageOf(err), { unit: t.name });
      return undefined;
    }
  }

  /**
   * An Accept=no socket whose service is an instance (`foo@bar.socket` → `foo@bar.service`) gets
   * it from the template `foo@.service`, as systemd loads instances on demand. Returns the names
   * of the services instantiated.
   */
  async instantiateSocketServices(sockets: readonly SocketUnit[]): Promise<string[]> {
    const added: string[] = [];
    for (const socket of sockets) {
      if (socket.accept) continue;
      const name = serviceNameOf(socket);
      if (this.services.has(name)) continue;
      const template = this.templates.get(templateOf(name) ?? '');
      if (!template || templateOf(name) === name) continue;
      try {
        const unit = await this.instantiate(template, name);
        // The instance's load: the parser's warnings (FILE:LINE: …) as 257 logs them at load.
        for (const w of instanceLoadWarnings(unit)) this.log.warn(w, { unit: name, bare: true });
        this.services.set(name, unit);
        added.push(name);
      } catch (err) {
        this.log.error(`Failed to load ${name}: ${messageOf(err)}`, { unit: socket.name });
      }
    }
    return added;
  }

  /** systemd refuses to start a socket whose service is not loaded. */
  checkTarget(unit: SocketUnit): void {
    if (unit.accept) {
      const t = templateNameFor(unit.name);
      if (!this.templates.has(t)) {
        throw new ActivationError(
          'TEMPLATE_NOT_FOUND',
          `Service ${t.replace('@.', '@internal.')} not loaded, socket cannot be started.`,
          { unit: unit.name },
        );
      }
    } else {
      const s = serviceNameOf(unit);
      // socket_start(): masked, missing, or failed to load (fixtures/v257/socket-service-not-loaded).
      if (!this.services.has(s))
        throw new ActivationError('SERVICE_NOT_FOUND', `Socket service ${s} not loaded, refusing.`, {
          unit: unit.name,
        });
    }
  }
}
