// The end-to-end access tests again, with pald's warm path on (PAL_FAST_PATH=1): the same
// containers, the same secrets and the same assertions must hold when the addon answers warm
// lookups itself. (The order of the imports matters: the switch is set before any pald starts.)
import './fast-path-env.js';
import './e2e-access.test.js';
