export * from './protocols.js';
export * from './mptcp.js';
export * from './errno.js';
