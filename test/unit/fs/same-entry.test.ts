import test from 'ava';
import { sameEntry } from '../../../src/fs/same-entry.js';
import type { ManifestEntry } from '../../../src/store/index.js';

const base: ManifestEntry = {
  name: 'db-password',
  labels: ['db', 'prod'],
  namespaces: ['payments'],
  mode: 0o400,
  backend: 'openpgp',
  ciphertextPath: '/etc/pal/secrets/db-password.gpg',
  version: 'a'.repeat(64),
  mtimeMs: 1_700_000_000_000,
  size: 16,
  sizeBound: 64,
  cacheTtlMs: 60_000,
  image: 'sha256:' + 'b'.repeat(64),
  palFormat: { source: 'PAL_SECRETS_YAML', base64: false },
};

/** A deep copy, so that sameness never rests on shared arrays or objects. */
const copy = (e: ManifestEntry): ManifestEntry => ({
  ...e,
  labels: [...e.labels],
  ...(e.namespaces ? { namespaces: [...e.namespaces] } : {}),
  ...(e.palFormat ? { palFormat: { ...e.palFormat } } : {}),
});

test('an entry equal field by field is the same', (t) => {
  t.true(sameEntry(base, copy(base)));
  const { namespaces: _n, palFormat: _p, image: _i, ...plain } = base;
  t.true(sameEntry(plain, copy(plain)), 'absent optional fields on both sides');
});

/** The entry without one of its optional fields (absent, not undefined: exactOptionalPropertyTypes). */
function without(e: ManifestEntry, key: 'size' | 'cacheTtlMs' | 'image' | 'palFormat' | 'namespaces'): ManifestEntry {
  const rest: Record<string, unknown> = { ...e };
  delete rest[key];
  return rest as unknown as ManifestEntry;
}

const changes: Record<string, (e: ManifestEntry) => ManifestEntry> = {
  version: (e) => ({ ...e, version: 'c'.repeat(64) }),
  mode: (e) => ({ ...e, mode: 0o440 }),
  mtimeMs: (e) => ({ ...e, mtimeMs: base.mtimeMs + 1 }),
  backend: (e) => ({ ...e, backend: 'redoctober' }),
  ciphertextPath: (e) => ({ ...e, ciphertextPath: '/etc/pal/secrets/other.gpg' }),
  size: (e) => ({ ...e, size: 17 }),
  'size absent': (e) => without(e, 'size'),
  sizeBound: (e) => ({ ...e, sizeBound: 65 }),
  cacheTtlMs: (e) => ({ ...e, cacheTtlMs: 0 }),
  'cacheTtlMs absent (the daemon-wide TTL)': (e) => without(e, 'cacheTtlMs'),
  image: (e) => ({ ...e, image: 'sha256:' + 'd'.repeat(64) }),
  'image absent (the host manifest)': (e) => without(e, 'image'),
  'palFormat source': (e) => ({ ...e, palFormat: { source: 'OTHER', base64: false } }),
  'palFormat base64': (e) => ({ ...e, palFormat: { source: 'PAL_SECRETS_YAML', base64: true } }),
  'palFormat absent': (e) => without(e, 'palFormat'),
  'a label more': (e) => ({ ...e, labels: ['db', 'prod', 'eu'] }),
  'a label less': (e) => ({ ...e, labels: ['db'] }),
  'labels reordered': (e) => ({ ...e, labels: ['prod', 'db'] }),
  'a namespace more': (e) => ({ ...e, namespaces: ['payments', 'billing'] }),
  'namespaces empty (the parser refuses it; never "any")': (e) => ({ ...e, namespaces: [] }),
  'namespaces absent (any namespace)': (e) => without(e, 'namespaces'),
};

for (const [what, change] of Object.entries(changes)) {
  test(`an entry whose ${what} differs is not the same, either way round`, (t) => {
    const changed = change(copy(base));
    t.false(sameEntry(base, changed));
    t.false(sameEntry(changed, base));
  });
}
