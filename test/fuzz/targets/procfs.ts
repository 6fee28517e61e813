// /proc/<pid>/stat and /proc/<pid>/status: comm is chosen by the process (prctl, exec name), so
// a caller writes part of what we parse. Returns a value or undefined; never throws.
import { parseStat, parseStatusFsIds, parseStatusIds } from '../../../src/identity/procfs.js';
import { hostileText, showText } from '../mutate.js';
import { statLine } from '../../helpers/fake-proc.js';
import { timed, type FuzzTarget, type Scale, type Shape } from '../target.js';

const STATUS =
  'Name:\tsleep\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\nPid:\t4243\nPPid:\t1\nTracerPid:\t0\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nFDSize:\t64\nGroups:\t\nNSpid:\t4243\n';

const SEEDS = [
  statLine('sleep'),
  statLine('a b c'),
  statLine('x) S 1 2 3 (y', 'R', '987654321'),
  statLine(') ) )'),
  statLine('('),
  statLine('new\nline'),
  statLine('', 'Z'),
  statLine('sp ace)'),
  '4242 (x) S 1 2 3',
  '4242 )x( S',
  STATUS,
  STATUS.replace('Tgid:\t4242', 'Tgid:\t0'),
];

function shapes(scale: Scale): Array<Shape<string>> {
  const n = scale === 'full' ? 60 * 1024 : 8 * 1024;
  return [
    { name: `comm of ${n} ")"`, input: statLine(')'.repeat(n)) },
    { name: `comm of ${n} "("`, input: statLine('('.repeat(n)) },
    { name: `${n} spaces after comm`, input: `1 (x)${' '.repeat(n)}S 1` },
    { name: `start time of ${n} digits`, input: statLine('x', 'S', '9'.repeat(n)) },
    { name: `status with ${n / 8} Uid lines`, input: 'Uid:\t1\n'.repeat(n / 8) },
    { name: `status Tgid of ${n} digits`, input: `Tgid:\t${'9'.repeat(n)}\nUid:\t0\nGid:\t0\n` },
    { name: `status Uid of ${n} values`, input: `Uid:${'\t1'.repeat(n)}\nGid:${'\t1'.repeat(n)}\n` },
  ];
}

export const target: FuzzTarget<string> = {
  name: 'procfs',
  covers: 'parseStat, parseStatusIds, parseStatusFsIds (src/identity/procfs.ts)',
  accepts: [],
  shapes,
  arbitrary: () =>
    hostileText(SEEDS, {
      tokens: ['(', ')', ' ', 'Tgid:\t', 'Uid:\t', 'Gid:\t', '\t', '4294967295', '99999999999999999999'],
      maxLength: 64 * 1024,
    }),
  check(text) {
    const stat = timed(() => parseStat(text));
    if (stat !== undefined && (!/^[A-Za-z]$/.test(stat.state) || !/^\d{1,20}$/.test(stat.startTime)))
      return `stat ${JSON.stringify(stat)} is not a state letter and a decimal start time`;
    const ids = timed(() => parseStatusIds(text));
    if (
      ids !== undefined &&
      !(
        Number.isSafeInteger(ids.tgid) &&
        ids.tgid > 0 &&
        Number.isSafeInteger(ids.uid) &&
        ids.uid >= 0 &&
        Number.isSafeInteger(ids.gid) &&
        ids.gid >= 0
      )
    ) {
      return `status ids ${JSON.stringify(ids)} are not non-negative integers with tgid > 0`;
    }
    const fs = timed(() => parseStatusFsIds(text));
    const isId = (v: number) => Number.isSafeInteger(v) && v >= 0 && v <= 0xffffffff;
    if (fs !== undefined && !(isId(fs.uid) && isId(fs.gid)))
      return `status filesystem ids ${JSON.stringify(fs)} are not 32-bit ids`;
    return undefined;
  },
  show: showText,
};
