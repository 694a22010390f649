/**
 * What the parts of an ActivationEngine share: the logger, the syscall layer, the event emitter the
 * engine's users listen on, the service channels (notify socket, output capture) and whether the
 * engine is stopping. Each part (socket-runtime.ts, accept-instances.ts, service-runtime.ts) gets
 * this object and nothing else of the engine.
 */
import type { EventEmitter } from 'node:events';
import type { EngineEvents } from './engine-types.js';
import { ActivationError } from './errors.js';
import type { Logger } from './logger.js';
import type { NativeApi } from './native-binding.js';
import type { ServiceChannels } from './service-channels.js';
import type { ServiceProcessOptions } from './service-process.js';

export class EngineCore {
  /** The syscall layer; set by start() when it was not given. */
  native: NativeApi | undefined;
  /** stop() is under way: nothing new is started or polled. */
  stopping = false;

  constructor(
    readonly log: Logger,
    readonly events: EventEmitter<EngineEvents>,
    readonly channels: ServiceChannels,
    native: NativeApi | undefined,
  ) {
    this.native = native;
  }

  requireNative(): NativeApi {
    if (!this.native) throw new ActivationError('ENGINE_STATE', 'engine not started');
    return this.native;
  }

  /** How services are run (service-channels.ts). */
  serviceOptions(): ServiceProcessOptions {
    return this.channels.processOptions(this.native);
  }
}

export const usecToMs = (usec: number): number => Math.max(0, Math.round(usec / 1000));
