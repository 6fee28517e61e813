// The tests' polling helper lives with the component start-up code that polls too (scripts/components,
// shared by the tests, the demo and the bench); test files keep importing it from here.
export { waitFor, type WaitOptions } from '../../scripts/components/wait.js';
