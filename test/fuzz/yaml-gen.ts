// Random YAML documents built from a grammar's own key names (and Object.prototype names), for
// inputs that get past the syntax check and into the validators.
import fc from 'fast-check';
import { Document, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { PROTOTYPE_KEYS } from './mutate.js';

type Tree = string | number | boolean | null | Tree[] | Map<string, Tree>;

/** Trees whose mapping keys are mostly the grammar's, serialised as block YAML. */
export function yamlDocuments(keys: readonly string[], leaves: readonly string[], maxDepth = 5): fc.Arbitrary<string> {
  const key = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...keys) },
    { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  );
  const leaf: fc.Arbitrary<Tree> = fc.oneof(
    fc.constantFrom(...leaves),
    fc.string({ maxLength: 12 }),
    fc.integer({ min: -2, max: 2 ** 33 }),
    fc.boolean(),
    fc.constant(null),
    fc.double(),
  );
  const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', maxDepth },
      leaf,
      fc.array(tie('tree'), { maxLength: 4 }),
      fc.array(fc.tuple(key, tie('tree')), { maxLength: 5 }).map((entries) => new Map(entries)),
    ),
  }));
  const top = fc
    .array(fc.tuple(fc.constantFrom(...keys), tree), { minLength: 1, maxLength: 6 })
    .map((entries) => new Map(entries));
  return top.map((t) => new Document(t).toString());
}

/** A schema of known keys: a nested object per mapping, ['list', item] for lists, 'leaf' otherwise. */
export type Schema = 'leaf' | 'any' | readonly ['list', Schema] | { readonly [key: string]: Schema };

/** The dotted path of the first key in `text` the schema does not know, if any. */
export function firstUnknownKey(text: string, schema: Schema): string | undefined {
  const doc = parseDocument(text);
  const walk = (node: unknown, s: Schema, where: string): string | undefined => {
    if (s === 'leaf' || s === 'any') return undefined;
    if (Array.isArray(s)) {
      if (!isSeq(node)) return undefined;
      for (const [i, item] of node.items.entries()) {
        const found = walk(item, s[1] as Schema, `${where}[${i}]`);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (!isMap(node)) return undefined;
    const fields = s as { readonly [key: string]: Schema };
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? pair.key.value : undefined;
      const name = String(k);
      const path = where === '' ? name : `${where}.${name}`;
      if (typeof k !== 'string' || !Object.hasOwn(fields, k)) return path;
      const found = walk(pair.value, fields[k]!, path);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return walk(doc.contents, schema, '');
}
