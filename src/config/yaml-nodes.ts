// Small helpers to walk a parsed YAML document while keeping source positions,
// so every validation error can name the file, line and key.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';

export interface YamlSource {
  readonly file: string;
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
}

export interface YamlSyntaxProblem {
  readonly line?: number;
  readonly message: string;
}

/** Parses text; syntax errors come back as problems (never thrown). */
export function parseYaml(file: string, text: string): { source: YamlSource; errors: YamlSyntaxProblem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const errors = doc.errors.map((e) => {
    const line = e.linePos?.[0]?.line;
    // The first line of yaml's message is enough; the rest is a code frame.
    const message = e.message.split('\n')[0] ?? e.message;
    return line === undefined ? { message } : { line, message };
  });
  return { source: { file, doc, lines }, errors };
}

/** 1-based line of a node, when it came from the source. */
export function lineOf(src: YamlSource, node: unknown): number | undefined {
  if (node && typeof node === 'object' && 'range' in node) {
    const range = (node as { range?: [number, number, number] | null }).range;
    if (range) return src.lines.linePos(range[0]).line;
  }
  return undefined;
}

export function describe(node: unknown): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'null';
    return typeof v === 'string' ? 'a string' : `a ${typeof v}`;
  }
  return 'an unsupported value';
}

export type { Node };
