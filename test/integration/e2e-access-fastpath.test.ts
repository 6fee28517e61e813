// The end-to-end access tests again, with pald's warm path off (PAL_FAST_PATH=0; it is on by
// default): the same containers, the same secrets and the same assertions must hold whether the
// addon answers warm lookups and opens itself or JS answers everything. (The order of the
// imports matters: the switch is set before any pald starts.)
import './fast-path-env.js';
import './e2e-access.test.js';
