// Moved to scripts/components/registry.ts, the one place the tests, the bench and the demo start the real
// components from. This re-export only keeps imports written before the move (other branches) compiling:
// new code imports scripts/components/registry.js; delete this file once nothing imports it.
export * from '../../scripts/components/registry.js';
