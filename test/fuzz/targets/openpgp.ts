// Ciphertext files named by the manifest: anyone who can write the manifest directory, or who
// holds a host public key, chooses these bytes. OpenPgpBackend.decrypt gets garbage, mutated
// binary and armored messages; every failure must be a SecretError with a reason.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import * as openpgp from 'openpgp';
import { OpenPgpBackend, sealOpenPgp } from '../../../src/crypto/openpgp.js';
import { encodePayload } from '../../../src/crypto/payload.js';
import { SecretError } from '../../../src/crypto/types.js';
import { labelProblem, secretNameProblem, type ManifestEntry } from '../../../src/store/index.js';
import { FakeSecureMemory } from '../../helpers/fake-secure.js';
import { mutatedBytes, mutatedText, PROTOTYPE_KEYS, showBytes } from '../mutate.js';
import { timed, type FuzzTarget, type Scale, type Shape } from '../target.js';

interface State {
  readonly backend: OpenPgpBackend;
  readonly binary: Uint8Array[];
  readonly armored: string[];
}

const ENTRY: ManifestEntry = {
  name: 'db-password',
  labels: ['billing'],
  mode: 0o400,
  backend: 'openpgp',
  ciphertextPath: '/nonexistent',
  version: '0'.repeat(64),
  mtimeMs: 0,
};

/** ASCII armor without a checksum (allowed by RFC 9580), so mutated packets get past the armor. */
function armor(data: Uint8Array): string {
  const b64 = Buffer.from(data)
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN PGP MESSAGE-----\n\n${b64}-----END PGP MESSAGE-----\n`;
}

const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

async function seal(name: string, labels: string[], plaintext: Uint8Array, publicKey: string): Promise<Uint8Array> {
  return sealOpenPgp({ name, labels, plaintext, publicKeysArmored: [publicKey] });
}

/** The message's first packet (a PKESK for the host key) repeated n times before the rest. */
function repeatFirstPacket(message: Uint8Array, n: number): Uint8Array {
  // New-format packet header with a one-octet length: 0xc1 (tag 1, PKESK), length < 192.
  if (message[0] !== 0xc1 || message[1]! >= 192)
    throw new Error('sealed message does not start with a short PKESK packet');
  const length = message[1]! + 2;
  const first = message.subarray(0, length);
  return new Uint8Array(Buffer.concat([...Array.from({ length: n }, () => first), message.subarray(length)]));
}

function shapes(scale: Scale, state: State): Array<Shape<Uint8Array>> {
  const n = scale === 'full' ? 1 << 20 : 1 << 16;
  return [
    { name: 'empty', input: new Uint8Array() },
    { name: 'armor header only', input: utf8('-----BEGIN PGP MESSAGE-----\n') },
    {
      name: `armor with ${n} bytes of one base64 line`,
      input: utf8(`-----BEGIN PGP MESSAGE-----\n\n${'A'.repeat(n)}\n-----END PGP MESSAGE-----\n`),
    },
    {
      name: `armor with ${n / 64} header lines`,
      input: utf8(
        `-----BEGIN PGP MESSAGE-----\n${'Comment: x\n'.repeat(n / 64)}\n${Buffer.from(state.binary[0]!).toString('base64')}\n-----END PGP MESSAGE-----\n`,
      ),
    },
    { name: `${n} zero bytes`, input: new Uint8Array(n) },
    { name: `${n} 0xff bytes`, input: new Uint8Array(n).fill(0xff) },
    {
      name: 'partial-length packet chain',
      input: new Uint8Array([0xc1, ...Array.from({ length: 4096 }, () => 0xe0), 0x00]),
    },
    ...state.binary.map((b, i) => ({
      name: `valid message ${i} with its last byte cut`,
      input: b.subarray(0, b.length - 1),
    })),
    {
      name: `valid message with its session key packet × ${scale === 'full' ? 2000 : 20}`,
      input: repeatFirstPacket(state.binary[0]!, scale === 'full' ? 2000 : 20),
    },
  ];
}

export const target: FuzzTarget<Uint8Array, State> = {
  name: 'openpgp',
  covers: 'OpenPgpBackend.decrypt (src/crypto/openpgp.ts, openpgp.js readMessage/decrypt, decodePayload)',
  accepts: [SecretError],
  settleMs: 10_000,
  async setup(ctx) {
    const keysDir = path.join(ctx.workDir, 'keys');
    await mkdir(keysDir, { recursive: true });
    const host = await openpgp.generateKey({ userIDs: [{ name: 'host' }], format: 'armored' });
    const other = await openpgp.generateKey({ userIDs: [{ name: 'other' }], format: 'armored' });
    await writeFile(path.join(keysDir, 'host.key'), host.privateKey, { mode: 0o600 });
    const backend = await OpenPgpBackend.load(keysDir, { allocSecure: new FakeSecureMemory().from });
    const binary = [
      await seal('db-password', ['billing'], utf8('hunter2'), host.publicKey),
      await seal('api.key', ['a', 'b'], new Uint8Array([0, 1, 2, 0x0a, 0xff]), host.publicKey),
      await seal('empty', ['a'], new Uint8Array(), host.publicKey),
      await seal('db-password', ['billing'], utf8('for someone else'), other.publicKey),
    ];
    // Payload headers a key holder could seal: hostile names and labels inside valid encryption.
    for (const header of [
      '{"pal":1,"name":"__proto__","labels":["constructor"]}\nv',
      '{"pal":1,"__proto__":{"name":"x"}}\nv',
      '[[[[\n',
      'no header',
    ]) {
      const message = await openpgp.createMessage({ binary: utf8(header), format: 'binary' });
      binary.push(
        await openpgp.encrypt({
          message,
          encryptionKeys: await openpgp.readKey({ armoredKey: host.publicKey }),
          format: 'binary',
        }),
      );
    }
    // Not public-key encrypted: password-encrypted, and signed-only.
    const plain = await openpgp.createMessage({
      binary: encodePayload({ name: 'x', labels: ['a'] }, utf8('v')),
      format: 'binary',
    });
    binary.push(await openpgp.encrypt({ message: plain, passwords: ['pw'], format: 'binary' }));
    binary.push(
      await openpgp.sign({
        message: plain,
        signingKeys: await openpgp.readPrivateKey({ armoredKey: host.privateKey }),
        format: 'binary',
      }),
    );
    for (const k of PROTOTYPE_KEYS.slice(0, 2))
      binary.push(await seal('x', [k.replace(/_/g, 'p').toLowerCase()], utf8(k), host.publicKey));
    return { backend, binary, armored: binary.map(armor) };
  },
  teardown: (state) => state.backend.close(),
  shapes,
  arbitrary: (state) =>
    fc.oneof(
      { weight: 4, arbitrary: mutatedBytes(state.binary, 4) },
      { weight: 2, arbitrary: mutatedBytes(state.binary, 3).map((b) => utf8(armor(b))) },
      { weight: 1, arbitrary: mutatedText(state.armored, { maxEdits: 3 }).map(utf8) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 1024 }) },
      { weight: 1, arbitrary: fc.constantFrom(...state.binary) },
    ),
  async check(data, state) {
    const opened = await timed(() => state.backend.decrypt(ENTRY, data));
    try {
      if (typeof opened.sealedName !== 'string' || secretNameProblem(opened.sealedName) !== undefined)
        return `invalid sealed name ${JSON.stringify(opened.sealedName)}`;
      if (!opened.sealedLabels.every((l) => typeof l === 'string' && labelProblem(l) === undefined))
        return 'invalid sealed labels';
      return undefined;
    } finally {
      opened.plaintext.wipe();
    }
  },
  show: showBytes,
};
