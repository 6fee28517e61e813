// The demo's two signers, side by side: the seed's Notary v1 (a target for the image id, with the
// labels in its custom data, on a throwaway notary-server) and today's cosign v3 (a key-pinned
// Sigstore bundle stored as an OCI 1.1 referrer of the pushed image, in a throwaway registry). The
// signatures are made as the tests make them (scripts/components, scripts/signing): with the real
// notary CLI, and for cosign, whose binary is not packaged here, with node:crypto in cosign's format.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { canonicalText, NotaryCli, type NotaryServer } from '../components/notary.js';
import { manifestDescriptor, type TestRegistry } from '../components/registry.js';
import type { DockerEngine } from '../components/dockerd.js';
import { BUNDLE_TYPE, signBundle } from '../signing/cosign-craft.js';
import { note } from './console.js';

export interface NotarySigned {
  /** The pinned root key id for pald.yaml's collection. */
  readonly rootKeyId: string;
}

/** `notary init` the collection and sign the image id under `tag` with `{"pal":{"labels":[…]}}`. */
export async function signWithNotary(
  server: NotaryServer,
  gun: string,
  tag: string,
  imageId: string,
  labels: readonly string[],
): Promise<NotarySigned> {
  const cli = await NotaryCli.create(server);
  const prefix = `notary -s ${server.url} --tlscacert ${server.pki.caPath} -d ${cli.trustDir}`;
  const notary = async (...args: string[]): Promise<void> => {
    note(`$ ${prefix} ${args.join(' ')}`);
    const out = (await cli.run(...args)).trim();
    if (out !== '') note(out);
  };
  await notary('init', gun, '-p');
  // Notary requires the custom data in canonical JSON.
  const custom = path.join(cli.dir, 'pal.json');
  writeFileSync(custom, canonicalText({ pal: { labels } }));
  note(`--- ${custom}: ${canonicalText({ pal: { labels } })}`);
  await notary('addhash', gun, tag, '1', '--sha256', imageId.replace(/^sha256:/, ''), '--custom', custom, '-p');
  await notary('lookup', gun, tag);
  const rootKeyId = await cli.rootKeyId();
  note(`pinned root key of ${gun}: ${rootKeyId}`);
  return { rootKeyId };
}

export interface CosignSigned {
  /** The image by digest, as cosign signs it. */
  readonly digestRef: string;
  /** PEM public key file for pald.yaml's policy. */
  readonly publicKeyFile: string;
}

/**
 * Push `ref` (host/repo:tag of `reg`) and sign its manifest digest with a new P-256 key in cosign v3's
 * format, the signed annotation `pal.labels` carrying `labels`.
 */
export async function signWithCosign(
  engine: DockerEngine,
  reg: TestRegistry,
  ref: string,
  labels: readonly string[],
  keyDir: string,
): Promise<CosignSigned> {
  const repo = ref.slice(reg.host.length + 1, ref.lastIndexOf(':'));
  note(`$ docker push ${ref}`);
  await engine.docker('push', ref);
  const repoDigest = await engine.docker('image', 'inspect', '-f', '{{index .RepoDigests 0}}', ref);
  const digest = repoDigest.slice(repoDigest.indexOf('@') + 1);
  note(`pushed: ${repoDigest}`);

  mkdirSync(keyDir, { recursive: true, mode: 0o755 });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyFile = path.join(keyDir, 'cosign.pub');
  writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  note(`cosign generate-key-pair, done here with node:crypto: an ECDSA P-256 key; public half ${publicKeyFile}`);

  const annotation = `pal.labels=${labels.join(',')}`;
  note(`cosign sign --key cosign.key --tlog-upload=false -a ${annotation} ${repoDigest}`);
  note(`  done here by the demo in cosign v3's format (no cosign binary is packaged for this machine):`);
  const image = await manifestDescriptor(reg, repo, digest);
  const referrer = await signBundle(reg, repo, image, privateKey, { annotations: { 'pal.labels': labels.join(',') } });
  note(`  a Sigstore bundle (DSSE envelope, in-toto statement for ${digest}, annotation ${annotation})`);
  note(`  stored as an OCI 1.1 referrer ${referrer.digest}`);
  note(`  (artifactType ${BUNDLE_TYPE}, subject ${digest}),`);
  note(`  listed in the referrers tag fallback ${reg.host}/${repo}:${digest.replace(':', '-')}`);
  return { digestRef: repoDigest, publicKeyFile };
}
