// `pal seal` edits the existing secrets.yaml text (comments and order kept): the text may be
// anything an operator or a tool left there. upsertManifestEntryText returns new text or throws
// Error with a reason (it must never overwrite a manifest it did not understand).
import fc from 'fast-check';
import { isMap, isScalar, parseDocument } from 'yaml';
import { upsertManifestEntryText } from '../../../src/store/edit.js';
import { hostileText, showText } from '../mutate.js';
import { timed, type FuzzTarget } from '../target.js';
import { yamlDocuments } from '../yaml-gen.js';
import { MANIFEST_KEYS, MANIFEST_SEEDS, manifestShapes } from './manifest.js';

const EDITS = [
  { name: 'db-password', file: 'db-password.pgp', labels: ['production-team-secret'], mode: 0o440 },
  { name: '__proto__', file: 'p.pgp', labels: ['constructor'], mode: 0o400, size: 3 },
];

export const target: FuzzTarget<string> = {
  name: 'manifest-edit',
  covers: 'upsertManifestEntryText (src/store/edit.ts)',
  accepts: [],
  plainErrorsFromSrc: true,
  shapes: manifestShapes,
  arbitrary: (_state, scale) =>
    fc.oneof(
      {
        weight: 4,
        arbitrary: hostileText(MANIFEST_SEEDS, {
          tokens: MANIFEST_KEYS.map((k) => `${k}: `),
          maxLength: scale === 'unit' ? 8192 : 256 * 1024,
        }),
      },
      { weight: 2, arbitrary: yamlDocuments(MANIFEST_KEYS, ['ok.pgp', '0400', 'a']) },
    ),
  check(text) {
    let out = text;
    for (const edit of EDITS) out = timed(() => upsertManifestEntryText(out, edit));
    const doc = parseDocument(out);
    if (doc.errors.length > 0) return `edited text is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`;
    for (const edit of EDITS) {
      const entry = doc.getIn(['secrets', edit.name], true);
      if (!isMap(entry)) return `edited text has no mapping for ${edit.name}`;
      const file = entry.get('file', true);
      if (!isScalar(file) || file.value !== edit.file) return `edited entry ${edit.name} does not name its file`;
    }
    return undefined;
  },
  show: showText,
};
