// Moved to scripts/signing/cosign-craft.ts, shared by the tests and the demo. This re-export only keeps
// imports written before the move (other branches) compiling: new code imports scripts/signing/cosign-craft.js;
// delete this file once nothing imports it.
export * from '../../scripts/signing/cosign-craft.js';
