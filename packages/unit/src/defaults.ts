/** Manager defaults that unit settings fall back to. */

/** DefaultTimeoutStartSec= / DefaultTimeoutStopSec=. */
export const DEFAULT_TIMEOUT_USEC = 90_000_000;
