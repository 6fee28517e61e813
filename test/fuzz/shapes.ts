// Hand-made hostile inputs of issue 21, at the sizes the issue measured ('full') or scaled down
// so the unit fuzz tests stay fast ('unit'). Every target runs its shapes before generated input.
import { PROTOTYPE_KEYS } from './mutate.js';
import type { Scale, Shape } from './target.js';

/** The key names issue 21 item 3 names; 'full' adds the other Object.prototype members. */
export function prototypeKeys(scale: Scale): readonly string[] {
  return scale === 'full' ? PROTOTYPE_KEYS : ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'valueOf'];
}

const pick = (scale: Scale, unit: number, full: number): number => (scale === 'full' ? full : unit);

/**
 * Deep nesting and long runs inside a YAML document (items 1, 2 and 4). `prefix` makes the shape
 * realistic for the grammar ("secrets:\n  " for a manifest).
 */
export function yamlNestingShapes(scale: Scale, prefix: string): Array<Shape<string>> {
  const deep = pick(scale, 1000, 3000);
  const lines = pick(scale, 100, 1000);
  // Alias resolution is linear but not cheap (~0.2 ms each); 1000 stay well inside the budget.
  const aliases = pick(scale, 100, 1000);
  return [
    { name: `21.1 "- " × ${deep} under a key`, input: `${prefix}${'- '.repeat(deep)}x:\n  y: 1\n` },
    // Item 2: the second parse in one process is the one that aborted Node.
    { name: '21.2 " -" × 1000', input: ' -'.repeat(1000) },
    { name: '21.2 " -" × 1000, again in the same process', input: ' -'.repeat(1000) },
    { name: `"[" × ${deep}`, input: `${prefix}${'['.repeat(deep)}` },
    { name: `"{" × ${deep}`, input: `${prefix}${'{'.repeat(deep)}` },
    { name: `"[[[[" closed × ${deep}`, input: `${prefix}${'['.repeat(deep)}1${']'.repeat(deep)}\n` },
    { name: `"{a: " × ${deep}`, input: `${prefix}${'{a: '.repeat(deep)}1${'}'.repeat(deep)}\n` },
    { name: `"- - - -" flow-free × ${deep} at top`, input: '- '.repeat(deep) + 'x\n' },
    {
      name: `indented mappings × ${lines}`,
      input: prefix + Array.from({ length: lines }, (_, i) => `${' '.repeat(i * 2)}k${i}:\n`).join(''),
    },
    {
      name: `anchors and aliases × ${aliases}`,
      input: `a: &a [x]\n${Array.from({ length: aliases }, (_, i) => `b${i}: &b${i} [*${i === 0 ? 'a' : `b${i - 1}`}, *${i === 0 ? 'a' : `b${i - 1}`}]`).join('\n')}\n`,
    },
  ];
}

/** Item 4: a long run of quotes after a valid line (pretty errors re-scanned the line per error). */
export function quoteRunShapes(scale: Scale, line: string): Array<Shape<string>> {
  const n = pick(scale, 1024, 65536);
  return [
    { name: `21.4 '"' × ${n} after ${JSON.stringify(line)}`, input: `${line}${'"'.repeat(n)}` },
    { name: `21.4 "'" × ${n} after ${JSON.stringify(line)}`, input: `${line}${"'".repeat(n)}` },
    { name: `21.4 '"' × ${n} on its own line`, input: `${line}\n${'"'.repeat(n)}\n` },
  ];
}

/** Item 4: many keys in one mapping (the duplicate-key check was quadratic). */
export function manyKeysShapes(scale: Scale, prefix: string, indent: string): Array<Shape<string>> {
  const n = pick(scale, 500, 20000);
  const keys = Array.from({ length: n }, (_, i) => `${indent}k${i}: 1\n`).join('');
  const same = `${indent}k: 1\n`.repeat(n);
  const where = prefix === '' ? ' at top level' : ` under ${JSON.stringify(prefix.trim())}`;
  return [
    { name: `21.4 ${n} distinct keys${where}`, input: `${prefix}${keys}` },
    { name: `21.4 ${n} copies of one key${where}`, input: `${prefix}${same}` },
  ];
}

/**
 * Item 3: Object.prototype names as keys at every level of a realistic document. For each line
 * that holds a key, one variant renames that key and one adds a sibling key with the name.
 */
export function prototypeKeyShapes(scale: Scale, seed: string, seedName: string): Array<Shape<string>> {
  const lines = seed.split('\n');
  const out: Array<Shape<string>> = [];
  const names = prototypeKeys(scale);
  let keyLine = 0;
  lines.forEach((line, i) => {
    const m = /^(\s*(?:- )?)([A-Za-z_][\w./-]*):(.*)$/.exec(line);
    if (m === null) return;
    const [, lead, key, rest] = m as unknown as [string, string, string, string];
    const indent = ' '.repeat(lead.length);
    // 'full': every name at every key; 'unit': the names take turns, so each still lands at several levels.
    const here = scale === 'full' ? names : [names[keyLine % names.length]!];
    keyLine++;
    for (const name of here) {
      const renamed = [...lines.slice(0, i), `${lead}${name}:${rest}`, ...lines.slice(i + 1)].join('\n');
      out.push({ name: `21.3 ${seedName}: key "${key}" (line ${i + 1}) renamed to ${name}`, input: renamed });
      const sibling = [...lines.slice(0, i + 1), `${indent}${name}: 1`, ...lines.slice(i + 1)];
      // A sibling after a line that opens a block goes inside the block instead.
      if (rest.trim() === '' && i + 1 < lines.length) {
        const childIndent = /^\s*/.exec(lines[i + 1]!)![0];
        sibling[i + 1] = `${childIndent}${name}: 1`;
      }
      out.push({ name: `21.3 ${seedName}: ${name} next to "${key}" (line ${i + 1})`, input: sibling.join('\n') });
    }
  });
  for (const name of names) out.push({ name: `21.3 ${seedName}: top-level ${name}`, input: `${name}: 1\n${seed}` });
  return out;
}

/** Item 6: Docker error bodies whose "message" is not a string. */
export const HOSTILE_DOCKER_BODIES: readonly string[] = [
  '{"message":{"toString":1}}',
  '{"message":{"toString":null,"valueOf":null}}',
  '{"message":{}}',
  '{"message":[]}',
  '{"message":null}',
  '{"message":1}',
  '{"message":{"__proto__":null}}',
  '{"__proto__":{"message":"x"}}',
  '{"message":"x","json":{"message":{"toString":1}}}',
  '{"message":"' + 'x'.repeat(100_000) + '"}',
  '[]',
  'null',
  '"x"',
  '',
  'not json',
  '{',
];
