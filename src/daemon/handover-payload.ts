// What a pald leaves with the /dev/fuse descriptor for the next one (in the holder, or a root-only
// file next to the admin socket under systemd, whose fd store keeps descriptors only):
//   version u8 (1) | generation u16 | inode key (32 bytes) | INIT length u16 | the kernel's INIT request
// Parsed as hostile input: a payload that does not parse means a fresh mount, never a crash.

export const PAYLOAD_VERSION = 1;
export const INODE_KEY_BYTES = 32;
const HEADER = 1 + 2 + INODE_KEY_BYTES + 2;
/** The kernel's INIT request is 104 bytes today; libfuse's limit for the addon is 256. */
const MAX_INIT = 256;
/** The holder keeps at most 1024 bytes. */
export const MAX_PAYLOAD = 1024;

export interface HandoverPayload {
  /** Tag of the file handles of the session that wrote it (1..65535). */
  readonly generation: number;
  /** Key of the inode numbers (src/fs/inodes.ts): the same numbers for the kernel's cached entries. */
  readonly inodeKey: Uint8Array;
  /** FUSE_INIT as the kernel sent it: the next session starts from it. */
  readonly init: Uint8Array;
}

export function encodePayload(p: HandoverPayload): Uint8Array {
  if (!Number.isInteger(p.generation) || p.generation < 1 || p.generation > 0xffff)
    throw new RangeError('generation must be 1..65535');
  if (p.inodeKey.length !== INODE_KEY_BYTES) throw new RangeError(`inode key must be ${INODE_KEY_BYTES} bytes`);
  if (p.init.length === 0 || p.init.length > MAX_INIT) throw new RangeError(`INIT must be 1..${MAX_INIT} bytes`);
  const out = Buffer.alloc(HEADER + p.init.length);
  out.writeUInt8(PAYLOAD_VERSION, 0);
  out.writeUInt16BE(p.generation, 1);
  out.set(p.inodeKey, 3);
  out.writeUInt16BE(p.init.length, 3 + INODE_KEY_BYTES);
  out.set(p.init, HEADER);
  return out;
}

/** The payload, or why it cannot be used. */
export function decodePayload(bytes: Uint8Array): HandoverPayload | string {
  if (bytes.length < HEADER || bytes.length > MAX_PAYLOAD) return `payload of ${bytes.length} bytes`;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (b.readUInt8(0) !== PAYLOAD_VERSION) return `payload version ${b.readUInt8(0)}, expected ${PAYLOAD_VERSION}`;
  const generation = b.readUInt16BE(1);
  if (generation === 0) return 'payload generation 0';
  const initLength = b.readUInt16BE(3 + INODE_KEY_BYTES);
  if (initLength === 0 || initLength > MAX_INIT || HEADER + initLength !== b.length)
    return `payload INIT length ${initLength} does not match its ${b.length} bytes`;
  return {
    generation,
    inodeKey: Uint8Array.from(b.subarray(3, 3 + INODE_KEY_BYTES)),
    init: Uint8Array.from(b.subarray(HEADER)),
  };
}

/** The generation after `g`: 1..65535, never 0 (untagged handles are always foreign). */
export function nextGeneration(g: number): number {
  return (g % 0xffff) + 1;
}
