// Collection globs over repository names: `*` stays within one path segment, `**` crosses them.
const compiled = new Map<string, RegExp>();

function compile(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else {
        re += '[^/]*';
      }
    } else {
      re += c.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

export function globMatches(glob: string, name: string): boolean {
  let re = compiled.get(glob);
  if (re === undefined) {
    re = compile(glob);
    if (compiled.size < 1000) compiled.set(glob, re);
  }
  return re.test(name);
}
