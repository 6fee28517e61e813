// Who is calling, as far as pal's policy is concerned: the identity the resolver attributes to
// the kernel's {pid, uid, gid}, and for containers the labels signed trust data grants its image.
// The filesystem attests callers by pid (attestCaller); `pal explain` attests a container it
// looked up by name (attestIdentity). Both then ask `decide`.

import type { CallerRef, Identity } from '../identity/types.js';
import type { ImageSubject, TrustDecision } from '../trust/types.js';
import { errorMessage } from '../shared/error-message.js';

export interface IdentitySource {
  resolve(caller: CallerRef): Promise<Identity>;
}

export interface TrustSource {
  verifiedLabels(image: ImageSubject): Promise<TrustDecision>;
}

export interface Caller {
  /** The kernel's view of the request (for `pal explain`: the container's init process). */
  readonly ctx: CallerRef;
  readonly identity: Identity;
  readonly trust?: TrustDecision;
  /** Set when the caller cannot be trusted at all (identity unknown, trust failed): fail closed. */
  readonly failure?: string;
}

/** The image a container runs, as trust providers need it (runtime labels only for mode none). */
export function imageSubject(identity: Identity): ImageSubject | undefined {
  if (!identity.imageId) return undefined;
  return {
    imageId: identity.imageId,
    repoDigests: identity.repoDigests ?? [],
    repoTags: identity.repoTags ?? [],
    imageLabels: identity.imageLabels ?? {},
    ...(identity.runtimeLabels ? { runtimeLabels: identity.runtimeLabels } : {}),
  };
}

function unknownIdentity(ctx: CallerRef, reason: string): Identity {
  return { kind: 'unknown', pid: ctx.pid, tgid: ctx.pid, uid: ctx.uid, gid: ctx.gid, reason };
}

/** Attribute the kernel's {pid, uid, gid} and attest it. Never throws: failures fail closed. */
export async function attestCaller(
  ctx: CallerRef,
  identitySource: IdentitySource,
  trustSource: TrustSource,
): Promise<Caller> {
  let identity: Identity;
  try {
    identity = await identitySource.resolve({ pid: ctx.pid, uid: ctx.uid, gid: ctx.gid });
  } catch (err) {
    // The resolver promises never to throw; if it does anyway, the caller is unknown (fail closed).
    identity = unknownIdentity(ctx, `identity resolver failed: ${errorMessage(err)}`);
  }
  return attestIdentity(ctx, identity, trustSource);
}

/** Attest an identity already resolved: for a container, ask trust which labels its image has. */
export async function attestIdentity(ctx: CallerRef, identity: Identity, trustSource: TrustSource): Promise<Caller> {
  if (identity.kind === 'unknown') {
    return { ctx, identity, failure: `identity unknown: ${identity.reason ?? 'no reason given'}` };
  }
  if (identity.kind === 'host') return { ctx, identity };
  if (identity.kind !== 'container') {
    return {
      ctx,
      identity,
      failure: `identity unknown: unsupported caller kind "${String((identity as { kind: unknown }).kind)}"`,
    };
  }

  const subject = imageSubject(identity);
  if (!subject) return { ctx, identity, failure: 'trust failed: container has no image id' };
  let trust: TrustDecision;
  try {
    trust = await trustSource.verifiedLabels(subject);
  } catch (err) {
    trust = { labels: [], state: 'error', provider: 'unknown', reason: `trust service failed: ${errorMessage(err)}` };
  }
  if (trust.state === 'error') return { ctx, identity, trust, failure: `trust failed: ${trust.reason}` };
  return { ctx, identity, trust };
}
