// The house rules of docs "Working on pal", checked so they stay true: a file of src/ over 350 lines says
// why in its header comment (a line starting `size:`), and no function in src/ is over 80 lines. Sizes are
// counted in lines of the formatted source, from the first to the last line of the file or function.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const MAX_FILE_LINES = 350;
const MAX_FUNCTION_LINES = 80;

/**
 * Functions allowed over the limit for now, each with its reason; an entry that no longer applies fails the
 * test too, so the list only shrinks. Keep it short: the fix is to split the function.
 */
const LONG_FUNCTIONS_FOR_NOW: Record<string, string> = {};

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const srcDir = path.join(repo, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The comment lines before the first statement: where a file says what it is, and why it is long. */
function headerComment(text: string): string {
  const lines = text.split('\n');
  const header: string[] = [];
  for (const line of lines) {
    if (!/^\s*(\/\/|\/\*|\*)/.test(line) && line.trim() !== '') break;
    header.push(line);
  }
  return header.join('\n');
}

function lineCount(file: ts.SourceFile, node: ts.Node): number {
  const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
  const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
  return end - start + 1;
}

function functionName(file: ts.SourceFile, node: ts.FunctionLikeDeclaration): string {
  if (node.name) return node.name.getText(file);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) {
    return parent.name.getText(file);
  }
  return '(anonymous)';
}

/** Every function of a file longer than the limit: declarations, methods, arrows and function expressions. */
function longFunctions(fileName: string, text: string): string[] {
  const file = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const lines = lineCount(file, node);
      if (lines > MAX_FUNCTION_LINES) {
        const line = file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;
        found.push(`${path.relative(repo, fileName)}:${line} ${functionName(file, node)}: ${lines} lines`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

const files = sourceFiles(srcDir).map((file) => ({ file, text: readFileSync(file, 'utf8') }));

test('src/ has files to check (the walk found the sources)', (t) => {
  t.true(files.length > 50);
});

test(`a file of src/ over ${MAX_FILE_LINES} lines says why in a "size:" line of its header comment`, (t) => {
  const unexplained = files
    .map(({ file, text }) => ({ file, lines: text.trimEnd().split('\n').length, header: headerComment(text) }))
    .filter(({ lines, header }) => lines > MAX_FILE_LINES && !/^\s*(\/\/|\*)\s*size:/m.test(header))
    .map(({ file, lines }) => `${path.relative(repo, file)}: ${lines} lines`);
  t.deepEqual(unexplained, []);
});

test(`no function in src/ is over ${MAX_FUNCTION_LINES} lines (but those listed for now, with a reason)`, (t) => {
  const long = files.flatMap(({ file, text }) => longFunctions(file, text));
  const key = (found: string): string => found.replace(/:\d+ /, ' ').replace(/: \d+ lines$/, '');
  t.deepEqual(
    long.filter((found) => !Object.hasOwn(LONG_FUNCTIONS_FOR_NOW, key(found))),
    [],
  );
  // A listed function that is short now (or gone) comes off the list.
  t.deepEqual(
    Object.keys(LONG_FUNCTIONS_FOR_NOW).filter((listed) => !long.some((found) => key(found) === listed)),
    [],
  );
});

test('the function measure sees a long arrow inside a call', (t) => {
  const body = Array.from({ length: MAX_FUNCTION_LINES }, (_, i) => `  const v${i} = ${i};`).join('\n');
  const text = `register(() => {\n${body}\n});\nfunction short() {\n  return 1;\n}\n`;
  t.deepEqual(longFunctions(path.join(srcDir, 'x.ts'), text), [
    `src/x.ts:1 (anonymous): ${MAX_FUNCTION_LINES + 2} lines`,
  ]);
});
