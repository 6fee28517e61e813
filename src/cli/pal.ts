#!/usr/bin/env node
// pal: operator and container-side CLI (SPEC §2). keygen/seal live in their own modules;
// the inspection commands talk to pald's admin socket.
// Exit codes: 0 ok, 1 denied/negative answer, 2 usage error, 3 pald unreachable.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { adminRequest, AdminRequestError, AdminUnreachableError, DEFAULT_ADMIN_SOCKET } from './admin-client.js';
import {
  formatAuditEvent,
  formatContainers,
  formatExplanation,
  formatSecrets,
  formatStatus,
  formatWhoami,
} from './admin-format.js';
import { unreachableHint } from './unreachable-hint.js';
import type { AdminRequest } from '../daemon/index.js';
import { errorMessage } from '../shared/error-message.js';

const USAGE = `usage: pal <command> [options]
  keygen     --out DIR [--name NAME]
  seal       --name NAME --label L [--label L2] (--key PUB.asc | --ro --owners a,b,c --minimum 2) [--manifest FILE | --image-manifest DIR] [--in FILE] [--mode 0400]
  status     [--json]                   daemon health, manifest problems
  containers [--json]                   containers seen, their verified labels
  secrets    [--json]                   manifest entries (never plaintext)
  audit      [--follow] [-n N] [--json] access decisions, newest last
  explain    CONTAINER SECRET [--json]  would this container be allowed to open this secret, and why
  whoami     [--json] [--mountpoint /run/pal]
admin commands take --admin-socket PATH (default ${DEFAULT_ADMIN_SOCKET})`;

class UsageError extends Error {}

function out(text: string): void {
  process.stdout.write(text);
}

function err(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : text + '\n');
}

const OPTIONS = {
  json: { type: 'boolean' },
  'admin-socket': { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  n: { type: 'string', short: 'n' },
  mountpoint: { type: 'string' },
} as const;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

async function adminCommand(command: string, argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  const socket = typeof values['admin-socket'] === 'string' ? values['admin-socket'] : DEFAULT_ADMIN_SOCKET;
  const json = values.json === true;
  const expectPositionals = command === 'explain' ? 2 : 0;
  if (positionals.length !== expectPositionals) {
    throw new UsageError(
      command === 'explain' ? 'explain needs CONTAINER and SECRET' : `${command} takes no arguments`,
    );
  }
  if ((values.follow !== undefined || values.n !== undefined) && command !== 'audit')
    throw new UsageError(`--follow/-n are for audit only`);
  if (values.mountpoint !== undefined) throw new UsageError('--mountpoint is for whoami only');

  let request: AdminRequest;
  switch (command) {
    case 'status':
    case 'containers':
    case 'secrets':
      request = { op: command };
      break;
    case 'audit': {
      const n = values.n === undefined ? 50 : Number(values.n);
      if (!Number.isInteger(n) || n < 0) throw new UsageError('-n must be a non-negative integer');
      request = { op: 'audit', n, follow: values.follow === true };
      break;
    }
    default:
      request = { op: 'explain', container: positionals[0]!, secret: positionals[1]! };
  }

  if (request.op === 'audit' && request.follow) {
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    process.once('SIGTERM', () => abort.abort());
    const print = (e: unknown): void => out(json ? JSON.stringify(e) + '\n' : formatAuditEvent(e));
    await adminRequest(socket, request, {
      signal: abort.signal,
      follow: { onResult: (result) => (Array.isArray(result) ? result : []).forEach(print), onEvent: print },
    });
    return 0;
  }

  const result = await adminRequest(socket, request);
  if (json) out(JSON.stringify(result, null, 2) + '\n');
  else if (command === 'status') out(formatStatus(result));
  else if (command === 'containers') out(formatContainers(result));
  else if (command === 'secrets') out(formatSecrets(result));
  else if (command === 'audit') (Array.isArray(result) ? result : []).forEach((e) => out(formatAuditEvent(e)));
  else out(formatExplanation(result));
  if (command === 'explain') return (result as { allow?: unknown }).allow === true ? 0 : 1;
  return 0;
}

async function whoamiCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (positionals.length) throw new UsageError('whoami takes no arguments');
  if (values.follow !== undefined || values.n !== undefined || values['admin-socket'] !== undefined)
    throw new UsageError('whoami takes only --json and --mountpoint');
  const mountpoint = typeof values.mountpoint === 'string' ? values.mountpoint : '/run/pal';
  const file = join(mountpoint, '.pal', 'whoami.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    err(
      `pal: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (is pald running and ${mountpoint} mounted here?)`,
    );
    return 3;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    err(`pal: ${file} is not valid JSON`);
    return 1;
  }
  out(values.json ? JSON.stringify(parsed, null, 2) + '\n' : formatWhoami(parsed));
  return (parsed as { kind?: unknown }).kind === 'unknown' ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'keygen':
        return (await import('./keygen.js')).run(rest);
      case 'seal':
        return (await import('./seal.js')).run(rest);
      case 'status':
      case 'containers':
      case 'secrets':
      case 'audit':
      case 'explain':
        return await adminCommand(command, rest);
      case 'whoami':
        return await whoamiCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(USAGE + '\n');
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`pal: ${e.message}\n${USAGE}`);
      return 2;
    }
    if (e instanceof AdminUnreachableError) {
      err(`pal: ${e.message}\n${unreachableHint(e.code)}`);
      return 3;
    }
    if (e instanceof AdminRequestError) {
      err(`pal: ${e.message}`);
      return 1;
    }
    err(`pal: ${errorMessage(e)}`);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
