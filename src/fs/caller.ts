// Who is calling, as far as pal's policy is concerned: the identity the resolver attributes to
// the kernel's {pid, uid, gid}, and for containers the labels signed trust data grants its image.

import type { CallerContext } from '../native/types.js';
import type { Identity } from '../identity/types.js';
import type { ImageSubject, TrustDecision } from '../trust/types.js';
import type { IdentitySource, TrustSource } from './deps.js';

export interface Caller {
  readonly ctx: CallerContext;
  readonly identity: Identity;
  readonly trust?: TrustDecision;
  /** Set when the caller cannot be trusted at all (identity unknown, trust failed): fail closed. */
  readonly failure?: string;
}

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

function unknownIdentity(ctx: CallerContext, reason: string): Identity {
  return { kind: 'unknown', pid: ctx.pid, tgid: ctx.pid, uid: ctx.uid, gid: ctx.gid, reason };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function evaluateCaller(ctx: CallerContext, identitySource: IdentitySource, trustSource: TrustSource): Promise<Caller> {
  let identity: Identity;
  try {
    identity = await identitySource.resolve({ pid: ctx.pid, uid: ctx.uid, gid: ctx.gid });
  } catch (err) {
    // The resolver promises never to throw; if it does anyway, the caller is unknown (fail closed).
    identity = unknownIdentity(ctx, `identity resolver failed: ${messageOf(err)}`);
  }
  if (identity.kind === 'unknown') {
    return { ctx, identity, failure: `identity unknown: ${identity.reason ?? 'no reason given'}` };
  }
  if (identity.kind === 'host') return { ctx, identity };

  const subject = imageSubject(identity);
  if (!subject) return { ctx, identity, failure: 'container has no image id' };
  let trust: TrustDecision;
  try {
    trust = await trustSource.verifiedLabels(subject);
  } catch (err) {
    trust = { labels: [], state: 'error', provider: 'unknown', reason: `trust service failed: ${messageOf(err)}` };
  }
  if (trust.state === 'error') return { ctx, identity, trust, failure: `trust failed: ${trust.reason}` };
  return { ctx, identity, trust };
}
