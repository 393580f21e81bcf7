// Replaced by build.mjs with package.json's version; `typeof` keeps unbundled runs (unit tests) working.
declare const __WORKER_VERSION__: string | undefined;

export const WORKER_VERSION = typeof __WORKER_VERSION__ === 'string' ? __WORKER_VERSION__ : 'development';
