export * from './capability.js';
export * from './net.js';
export * from './paths.js';
