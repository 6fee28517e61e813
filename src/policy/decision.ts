// The access decision: deny by default, every answer with a reason and a reason class.
// `decide` is the only place pald decides whether a caller may have a secret: the filesystem
// (lookup, readdir, getattr, open, .pal/secrets.json) and `pal explain` all ask it, so they
// cannot disagree.

import type { Identity } from '../identity/types.js';
import type { TrustDecision } from '../trust/types.js';
import type { Caller } from './caller.js';
import type { SealedFacts } from './sealed-facts.js';

/**
 * Why a decision came out as it did, coarser than the human reason: callers of `decide` map it to
 * an errno, tests compare it across paths.
 * - caller-unknown, trust-failed: pald cannot tell who is calling or what its image may have: the
 *   caller is failed closed (EACCES even on lookup: no existence oracle).
 * - the others are ordinary denials of a known caller (the secret does not exist for it).
 */
export type DecisionClass =
  | 'allowed'
  | 'caller-unknown'
  | 'trust-failed'
  | 'untrusted-image'
  | 'no-labels'
  | 'missing-labels'
  | 'sealed-name'
  | 'sealed-labels'
  | 'host-not-allowed'
  | 'wrong-namespace';

export interface Decision {
  readonly allow: boolean;
  readonly reason: string;
  readonly class: DecisionClass;
}

/** Classes for which the caller is not trusted at all (fail closed, same answer for every name). */
export function isFailClosed(decision: Decision): boolean {
  return decision.class === 'caller-unknown' || decision.class === 'trust-failed';
}

export interface AuthorizeInput {
  readonly identity: Identity;
  /** The trust decision for a container caller's image (required for containers). */
  readonly trust?: TrustDecision;
  /** Labels the caller must hold (all of them). */
  readonly requiredLabels: readonly string[];
  /** Kubernetes namespaces the caller's pod must be in (absent: any caller). */
  readonly namespaces?: readonly string[];
  readonly hostAllowUids: readonly number[];
}

function allow(reason: string): Decision {
  return { allow: true, reason, class: 'allowed' };
}

function deny(klass: Exclude<DecisionClass, 'allowed'>, reason: string): Decision {
  return { allow: false, reason, class: klass };
}

/**
 * PAL's rule: a container may open a secret when its verified labels include
 * every label of the secret. Host callers only by uid allow-list.
 */
export function authorize(input: AuthorizeInput): Decision {
  const decision = authorizeByKind(input);
  // `namespaces:` narrows a grant to pods of those namespaces (host callers and plain containers
  // included): checked only after labels and trust allowed, so fail-closed answers stay first.
  if (!decision.allow || input.namespaces === undefined) return decision;
  const { identity } = input;
  const ns = identity.pod?.namespace;
  const who = identity.kind === 'host' ? `host caller uid ${identity.uid}` : (identity.name ?? 'container');
  const wanted = input.namespaces.join(', ');
  if (ns === undefined)
    return deny('wrong-namespace', `${who} is not a Kubernetes pod (the secret is for namespaces ${wanted})`);
  if (!input.namespaces.includes(ns))
    return deny('wrong-namespace', `${who}: pod namespace ${ns} is not one of ${wanted}`);
  return allow(`${decision.reason}; pod namespace ${ns}`);
}

function authorizeByKind(input: AuthorizeInput): Decision {
  const { identity } = input;
  switch (identity.kind) {
    case 'container':
      return authorizeContainer(input);
    case 'host':
      return input.hostAllowUids.includes(identity.uid)
        ? allow(`host caller uid ${identity.uid} is in host.allow_uids`)
        : deny('host-not-allowed', `host caller uid ${identity.uid} is not in host.allow_uids`);
    case 'unknown':
      return deny('caller-unknown', `caller identity unknown: ${identity.reason ?? 'no reason given'}`);
    default:
      return deny('caller-unknown', `unsupported caller kind "${String((identity as { kind: unknown }).kind)}"`);
  }
}

function authorizeContainer(input: AuthorizeInput): Decision {
  const who = input.identity.name ?? input.identity.containerId?.slice(0, 12) ?? 'container';
  const trust = input.trust;
  if (!trust) return deny('trust-failed', `${who}: no trust decision for its image`);
  if (trust.state !== 'verified' && trust.state !== 'unverified') {
    return deny(
      trust.state === 'error' ? 'trust-failed' : 'untrusted-image',
      `${who}: image trust ${trust.state}: ${trust.reason}`,
    );
  }
  if (input.requiredLabels.length === 0) {
    // The manifest refuses label-less secrets; refuse here too rather than open to all.
    return deny('no-labels', `${who}: the secret has no labels`);
  }
  const held = new Set(trust.labels);
  const missing = input.requiredLabels.filter((l) => !held.has(l));
  if (missing.length > 0) {
    return deny('missing-labels', `${who}: missing label${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  }
  const how = trust.state === 'verified' ? `verified by ${trust.provider}` : 'UNVERIFIED (trust.mode none)';
  return allow(`${who}: holds ${input.requiredLabels.join(', ')} (${how})`);
}

/**
 * A shortcut for scans of many secrets: false for manifest labels `decide()` is sure to deny this
 * caller, whatever it knows of the sealed payload (a container is allowed only with trust verified
 * or unverified holding every manifest label, authorizeContainer; the sealed labels only add more).
 * True is no answer: `decide()` makes every allow.
 */
export function mayAllowLabels(caller: Caller): (labels: readonly string[]) => boolean {
  const { trust } = caller;
  if (caller.failure || caller.identity.kind !== 'container' || !trust) return () => false;
  if (trust.state !== 'verified' && trust.state !== 'unverified') return () => false;
  const held = new Set(trust.labels);
  return (labels) => labels.length > 0 && labels.every((l) => held.has(l));
}

/**
 * Labels a caller must hold to get a sealed secret: the manifest grants to holders
 * of its labels, the sealing to holders of the sealed ones; the effective grant
 * is the intersection of the two, i.e. the caller must hold the union.
 */
export function effectiveLabels(manifest: readonly string[], sealed: readonly string[]): string[] {
  return [...new Set([...manifest, ...sealed])].sort();
}

/** What policy needs to know about a secret: its manifest entry (name, labels, ciphertext version). */
export interface PolicySecret {
  readonly name: string;
  readonly labels: readonly string[];
  readonly namespaces?: readonly string[];
  readonly version: string;
}

export interface DecideContext {
  /** host.allow_uids, read at each decision so a SIGHUP can change it. */
  readonly hostAllowUids: readonly number[];
  /**
   * What a decrypt of this secret's ciphertext showed (sealed name and labels), when pald has
   * seen it. Ignored unless it is about the entry's current ciphertext version.
   */
  readonly sealed?: SealedFacts | undefined;
}

/**
 * May this caller have this secret? Before any decryption the manifest's labels decide; once
 * pald has seen the sealed payload of this ciphertext version, its name must be the entry's and
 * the caller must hold the sealed labels too (a ciphertext copied under another name, or
 * relabelled in the manifest, grants nothing its sealing did not).
 */
export function decide(caller: Caller, secret: PolicySecret, context: DecideContext): Decision {
  if (caller.failure) {
    return deny(caller.identity.kind === 'unknown' ? 'caller-unknown' : 'trust-failed', caller.failure);
  }
  const identityAndTrust = {
    identity: caller.identity,
    ...(caller.trust ? { trust: caller.trust } : {}),
    hostAllowUids: context.hostAllowUids,
    ...(secret.namespaces !== undefined ? { namespaces: secret.namespaces } : {}),
  };
  const byManifest = authorize({ ...identityAndTrust, requiredLabels: secret.labels });
  const sealed = context.sealed && context.sealed.version === secret.version ? context.sealed : undefined;
  if (!byManifest.allow || !sealed) return byManifest;
  if (sealed.sealedName !== secret.name) {
    return deny('sealed-name', `sealed name "${sealed.sealedName}" does not match manifest name "${secret.name}"`);
  }
  const bySealing = authorize({
    ...identityAndTrust,
    requiredLabels: effectiveLabels(secret.labels, sealed.sealedLabels),
  });
  if (!bySealing.allow) return deny('sealed-labels', `sealed labels: ${bySealing.reason}`);
  return bySealing;
}
