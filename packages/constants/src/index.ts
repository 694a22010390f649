export * from './protocols.js';
export * from './mptcp.js';
export * from './errno.js';
export * from './errno-table.js';
export * from './sockopt.js';
export * from './socket-option.js';
