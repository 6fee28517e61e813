// Small helpers to walk a parsed YAML document while keeping source positions,
// so every validation error can name the file, line and key.
import { isMap, isScalar, isSeq, type Document, type Node } from 'yaml';
import {
  DEFAULT_YAML_LIMITS,
  parseBoundedYaml,
  type LineIndex,
  type YamlLimits,
  type YamlProblem,
} from './yaml-bounded.js';

export interface YamlSource {
  readonly file: string;
  readonly doc: Document.Parsed;
  readonly lines: LineIndex;
}

export type YamlSyntaxProblem = YamlProblem;

/**
 * Parses text within size and depth limits; syntax errors, limit violations and duplicate keys
 * come back as problems (never thrown), in time linear in the text.
 */
export function parseYaml(
  file: string,
  text: string,
  limits: YamlLimits = DEFAULT_YAML_LIMITS,
): { source: YamlSource; errors: YamlSyntaxProblem[] } {
  const { doc, lines, errors } = parseBoundedYaml(text, limits);
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
