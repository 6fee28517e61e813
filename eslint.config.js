// Lint for pal: typescript-eslint's type-aware recommended rules, plus the layout rules the code is built on —
// every folder of src/ is a unit entered only through its door (index.ts, or types.ts for shapes), and no import
// cycles. `npm run lint` runs it; `npm run check` runs it with the type-check, format check and unit tests.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const root = path.dirname(fileURLToPath(import.meta.url));

// Folders anyone may import any file of: small neutral helpers with no state and no door of their own.
const NEUTRAL_FOLDERS = new Set(['shared']);

const unitFolders = readdirSync(path.join(root, 'src'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && !NEUTRAL_FOLDERS.has(entry.name))
  .map((entry) => entry.name);

// Files allowed past a door, each with its reason. Keep this short: the fix is usually an export in index.ts.
const DOOR_EXCEPTIONS = {
  // `pald --check-config` loads only the config checker, never the daemon and the FUSE addon behind
  // daemon/index.ts, so that a config can be checked on a host without FUSE and without side effects.
  'src/cli/pald.ts': { daemon: ['./check-config.ts'] },
};

// One zone per unit, read from disk so a new folder is covered the day it is added: a file of src/ outside the
// unit may import from it only index.ts and types.ts. Inside the unit (subfolders included) anything goes.
const boundaryZones = (extra = {}) =>
  unitFolders.map((unit) => ({
    target: `src/!(${unit})/**/*.ts`,
    from: `src/${unit}`,
    except: ['./index.ts', './types.ts', ...(extra[unit] ?? [])],
    message: `Enter src/${unit}/ through its index.ts (or types.ts for types); export what you need there.`,
  }));

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'native/build/', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    plugins: { 'import-x': importX },
    settings: {
      // import-x reads the modules an import leads to (for no-cycle) only if it knows how to parse them.
      'import-x/extensions': ['.ts'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/external-module-folders': ['node_modules', 'node_modules/@types'],
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: path.join(root, 'tsconfig.json') })],
    },
    rules: {
      // `_`-prefixed names mark a parameter kept for an interface's shape (FUSE callbacks, providers).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Off: an `async` method with no await is how pal implements a Promise-returning interface so that a
      // throw inside it still arrives as a rejection, never as a synchronous exception the caller did not expect.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests read untyped JSON answers, metrics text and fakes' internals and assert on them: a wrong shape
      // fails the assertion, so the any-tracking rules add casts without adding safety here.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Expected YAML and text are clearer with their indentation spelled out as it is.
      'no-regex-spaces': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: boundaryZones() }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  ...Object.entries(DOOR_EXCEPTIONS).map(([file, extra]) => ({
    files: [file],
    rules: { 'import-x/no-restricted-paths': ['error', { zones: boundaryZones(extra) }] },
  })),
);
