/**
 * The directive tables: one row per [Unit]/[Socket]/[Service] key, like systemd's
 * load-fragment-gperf.gperf.in (src/unit-directives.ts, socket-directives.ts,
 * service-directives.ts; the row machinery is src/registry.ts). A row names the value parser and
 * the field it fills; messages are systemd's own (checked against systemd-analyze verify 257).
 */
import type { DirectiveParser } from './load-state.js';

export { keep, parseFailed, fdnameIsValid } from './directive-helpers.js';
export * from './unit-directives.js';
export * from './socket-directives.js';
export * from './service-directives.js';

export const INSTALL_DIRECTIVES: Readonly<Record<string, DirectiveParser>> = {};
