/** Waiting on an ActivationEngine's events in tests. */
import type { ActivationEngine, ServiceState } from '../../src/index.js';

/** Resolves when `service` enters `state` (events, no polling). */
export function stateOf(e: ActivationEngine, service: string, state: ServiceState): Promise<void> {
  return new Promise((resolve) => {
    const on = (ev: { service: string; state: ServiceState }): void => {
      if (ev.service === service && ev.state === state) {
        e.off('service-state', on);
        resolve();
      }
    };
    e.on('service-state', on);
  });
}
