// Policy: the only place pald decides who may have a secret (see decision.ts).

export { labelProblem, isValidLabel } from './labels.js';
export {
  authorize,
  decide,
  effectiveLabels,
  isFailClosed,
  mayAllowLabels,
  type AuthorizeInput,
  type Decision,
  type DecisionClass,
  type DecideContext,
  type PolicySecret,
} from './decision.js';
export {
  attestCaller,
  attestIdentity,
  imageSubject,
  type Caller,
  type IdentitySource,
  type TrustSource,
} from './caller.js';
export { SealedFactsRegistry, type SealedFacts } from './sealed-facts.js';
