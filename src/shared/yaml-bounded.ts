// The one way pal parses YAML it did not write (pald.yaml, secrets.yaml, `pal seal`'s edits):
// bounded in size and nesting depth before the parts of the yaml library that recurse see the
// text, and linear in the input throughout.
//
// Why not parseDocument(): its CST parser and its composer both recurse once per nesting level,
// so a few thousand levels (`- - - - …`, `[[[[…`) overflow the stack — a RangeError, or with a
// nearly exhausted stack a V8 abort (SIGABRT) that no try/catch can stop. Its pretty errors
// re-scan the offending line for every error (quadratic on one long line) and its duplicate-key
// check compares each key with every earlier one (quadratic in the keys of a map).
//
// So the pipeline here is:
//   1. size bound;
//   2. the library's Lexer (an iterative state machine) feeds its Parser one lexeme at a time, and
//      the Parser's stack of open collections is checked after each one: parsing stops the moment
//      the nesting passes the limit, before the Parser's own recursion (one level per collection
//      it closes) can go deep. A text-level pre-scan was tried first and dropped: the Parser's
//      error recovery nests what indentation says is closed (`x: : :\n[]\n` repeated nests two
//      levels per repeat), so only the Parser's own stack is an honest measure;
//   3. an iterative walk measures the CST's exact collection depth before the recursive composer
//      runs;
//   4. the Composer runs with uniqueKeys off; duplicate keys are found with one Set per map, and
//      error positions become line numbers through one line-start index (binary search).
import { Composer, Document, isMap, isPair, isScalar, isSeq, Lexer, Parser, type CST } from 'yaml';

export interface YamlLimits {
  /** UTF-8 bytes of the whole text. */
  readonly maxBytes: number;
  /** Collections nested in collections; real config and manifests stay below 12. */
  readonly maxDepth: number;
}

export const DEFAULT_YAML_LIMITS: YamlLimits = { maxBytes: 4 * 1024 * 1024, maxDepth: 64 };

export interface YamlProblem {
  readonly line?: number;
  readonly message: string;
}

/** 1-based line numbers from offsets: one linear scan, then a binary search per lookup. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }

  /** Same shape as yaml's LineCounter.linePos (1-based line and column). */
  linePos(offset: number): { line: number; col: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.starts[lo]! + 1 };
  }
}

export interface BoundedYaml {
  /** An empty document when the text was refused before parsing. */
  readonly doc: Document.Parsed;
  readonly lines: LineIndex;
  /** Syntax errors, limit violations and duplicate keys; empty when the document is usable. */
  readonly errors: YamlProblem[];
}

/** Parses one YAML document within `limits`; never throws for any input text. */
export function parseBoundedYaml(text: string, limits: YamlLimits = DEFAULT_YAML_LIMITS): BoundedYaml {
  const bytes = Buffer.byteLength(text);
  const lines = new LineIndex(bytes > limits.maxBytes ? '' : text);
  const refuse = (message: string, offset?: number): BoundedYaml => ({
    doc: new Document(null) as unknown as Document.Parsed,
    lines,
    errors: [{ ...(offset === undefined ? {} : { line: lines.linePos(offset).line }), message }],
  });
  if (bytes > limits.maxBytes) return refuse(`document is ${bytes} bytes, larger than the limit of ${limits.maxBytes}`);

  const parsed = cstTokens(text, limits.maxDepth);
  if (parsed.exceededAt !== undefined)
    return refuse(`nesting deeper than ${limits.maxDepth} levels`, parsed.exceededAt);
  // Exact, and a second line of defence: the composer recurses once per level of this tree.
  const depth = cstDepth(parsed.tokens, limits.maxDepth);
  if (depth.exceededAt !== undefined) return refuse(`nesting deeper than ${limits.maxDepth} levels`, depth.exceededAt);
  const tokens = parsed.tokens;

  const composer = new Composer({ uniqueKeys: false });
  let doc: Document.Parsed | undefined;
  const extra: YamlProblem[] = [];
  // The composer makes one YAMLParseError per problem, and V8 captures a stack trace for each:
  // on a hostile text (64k stray quotes) that was 30 µs per error. Nobody reads those traces.
  const traceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    for (const d of composer.compose(tokens, true, text.length)) {
      if (doc === undefined) doc = d;
      else {
        extra.push({ line: lines.linePos(d.range[0]).line, message: 'more than one YAML document in the file' });
        break;
      }
    }
  } finally {
    Error.stackTraceLimit = traceLimit;
  }
  doc ??= new Document(null) as unknown as Document.Parsed;
  const syntax = doc.errors.map((e): YamlProblem => {
    const first = e.message.split('\n', 1)[0] ?? e.message;
    const message = first.length > 200 ? `${first.slice(0, 200)}…` : first;
    return e.pos[0] >= 0 ? { line: lines.linePos(e.pos[0]).line, message } : { message };
  });
  // (concat, not push(...): a hostile text can make 100,000s of errors, more than a call's arguments)
  const errors = syntax.concat(extra);
  return { doc, lines, errors: errors.length > 0 ? errors : duplicateKeys(doc, lines) };
}

/**
 * The CST of `text`, from the library's Lexer and Parser — both iterative, except that the Parser
 * recurses once per open collection when it closes several at a time. Its stack of open tokens
 * (the document, the open collections, a scalar) is checked after every lexeme, and parsing stops
 * as soon as it holds more than `maxDepth` collections: no lexeme opens more than a few, so the
 * stack and the recursion stay within a few levels of the limit whatever the text. The
 * composer's recursion follows the CST, whose depth is what the stack reached.
 */
function cstTokens(text: string, maxDepth: number): { readonly tokens: CST.Token[]; readonly exceededAt?: number } {
  const tokens: CST.Token[] = [];
  const parser = new Parser();
  const maxOpen = maxDepth + 2; // + the document + a scalar
  for (const lexeme of new Lexer().lex(text)) {
    for (const token of parser.next(lexeme)) tokens.push(token);
    if (parser.stack.length > maxOpen) return { tokens, exceededAt: parser.offset };
  }
  for (const token of parser.end()) tokens.push(token);
  return { tokens };
}

/** The collection depth of a text's CST (for tests and fuzzing; stops counting past `cap`). */
export function measureNesting(text: string, cap = 10_000): number {
  const { tokens, exceededAt } = cstTokens(text, cap);
  return exceededAt === undefined ? cstDepth(tokens, Infinity).max : cap + 1;
}

const COLLECTIONS = new Set(['block-map', 'block-seq', 'flow-collection']);

/** Exact collection depth of the CST, walked with an explicit stack; offset of the first too deep. */
function cstDepth(
  tokens: readonly CST.Token[],
  maxDepth: number,
): { readonly max: number; readonly exceededAt?: number } {
  let max = 0;
  // Two parallel stacks rather than one of {node, depth} objects: this runs over every token.
  const nodes: unknown[] = [...tokens];
  const depths: number[] = tokens.map(() => 0);
  while (nodes.length > 0) {
    const node = nodes.pop() as Record<string, unknown> | unknown[];
    let depth = depths.pop()!;
    if (Array.isArray(node)) {
      for (const child of node) {
        if (typeof child === 'object' && child !== null) {
          nodes.push(child);
          depths.push(depth);
        }
      }
      continue;
    }
    const type = node['type'];
    if (typeof type === 'string' && COLLECTIONS.has(type)) {
      depth += 1;
      if (depth > max) {
        max = depth;
        if (max > maxDepth) return { max, exceededAt: typeof node['offset'] === 'number' ? node['offset'] : 0 };
      }
    }
    for (const key in node) {
      const child = node[key];
      if (typeof child === 'object' && child !== null) {
        nodes.push(child);
        depths.push(depth);
      }
    }
  }
  return { max };
}

/** Every repeated scalar key of every mapping: one Set per mapping, so linear in the keys. */
function duplicateKeys(doc: Document.Parsed, lines: LineIndex): YamlProblem[] {
  const problems: YamlProblem[] = [];
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        if (isScalar(pair.key)) {
          if (seen.has(pair.key.value)) {
            const at = pair.key.range?.[0];
            problems.push({
              ...(at === undefined ? {} : { line: lines.linePos(at).line }),
              message: 'Map keys must be unique',
            });
          }
          seen.add(pair.key.value);
        } else stack.push(pair.key);
        stack.push(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(isPair(item) ? item.value : item);
    }
  }
  return problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}
