// The access decision: deny by default, every answer with a reason.
import type { Identity } from '../identity/types.js';
import type { TrustDecision } from '../trust/types.js';

export { labelProblem, isValidLabel, LABEL_GRAMMAR } from './labels.js';

export interface Decision {
  readonly allow: boolean;
  readonly reason: string;
}

export interface AuthorizeInput {
  readonly identity: Identity;
  /** The trust decision for a container caller's image (required for containers). */
  readonly trust?: TrustDecision;
  /** Labels the caller must hold (all of them). */
  readonly requiredLabels: readonly string[];
  readonly hostAllowUids: readonly number[];
}

/**
 * PAL's rule: a container may open a secret when its verified labels include
 * every label of the secret. Host callers only by uid allow-list.
 */
export function authorize(input: AuthorizeInput): Decision {
  const { identity } = input;
  switch (identity.kind) {
    case 'container':
      return authorizeContainer(input);
    case 'host':
      return input.hostAllowUids.includes(identity.uid)
        ? { allow: true, reason: `host caller uid ${identity.uid} is in host.allow_uids` }
        : { allow: false, reason: `host caller uid ${identity.uid} is not in host.allow_uids` };
    case 'unknown':
      return { allow: false, reason: `caller identity unknown: ${identity.reason ?? 'no reason given'}` };
    default:
      return { allow: false, reason: `unsupported caller kind "${String((identity as { kind: unknown }).kind)}"` };
  }
}

function authorizeContainer(input: AuthorizeInput): Decision {
  const who = input.identity.name ?? input.identity.containerId?.slice(0, 12) ?? 'container';
  const trust = input.trust;
  if (!trust) return { allow: false, reason: `${who}: no trust decision for its image` };
  if (trust.state !== 'verified' && trust.state !== 'unverified') {
    return { allow: false, reason: `${who}: image trust ${trust.state}: ${trust.reason}` };
  }
  if (input.requiredLabels.length === 0) {
    // The manifest refuses label-less secrets; refuse here too rather than open to all.
    return { allow: false, reason: `${who}: the secret has no labels` };
  }
  const held = new Set(trust.labels);
  const missing = input.requiredLabels.filter((l) => !held.has(l));
  if (missing.length > 0) {
    return { allow: false, reason: `${who}: missing label${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` };
  }
  const how = trust.state === 'verified' ? `verified by ${trust.provider}` : 'UNVERIFIED (trust.mode none)';
  return { allow: true, reason: `${who}: holds ${input.requiredLabels.join(', ')} (${how})` };
}

/**
 * Labels a caller must hold to get a sealed secret: the manifest grants to holders
 * of its labels, the sealing to holders of the sealed ones; the effective grant
 * is the intersection of the two, i.e. the caller must hold the union.
 */
export function effectiveLabels(manifest: readonly string[], sealed: readonly string[]): string[] {
  return [...new Set([...manifest, ...sealed])].sort();
}
