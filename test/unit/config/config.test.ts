import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, defaultConfig, loadConfig, parseConfig } from '../../../src/config/index.js';
import { FULL_CONFIG } from '../../helpers/config-fixtures.js';

let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pal-config-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
}

test('SPEC §3 defaults', (t) => {
  const d = defaultConfig();
  t.is(d.mountpoint, '/run/pal');
  t.is(d.manifest, '/etc/pal/secrets.yaml');
  t.is(d.keys, '/etc/pal/keys');
  t.is(d.docker.host, 'unix:///var/run/docker.sock');
  t.is(d.trust.mode, 'notary');
  t.is(d.trust.notary?.server, 'https://notary:4443');
  t.is(d.admin.socket, '/run/pald/admin.sock');
  t.is(d.audit.path, '/var/log/pal/audit.log');
  t.deepEqual(d.host.allowUids, []);
});

test('empty file and missing default path give defaults; DOCKER_HOST honoured', async (t) => {
  const p = await file('empty.yaml', '# nothing here\n');
  t.deepEqual(await loadConfig(p, {}), defaultConfig());
  const env = { DOCKER_HOST: 'unix:///tmp/d.sock' };
  t.is((await loadConfig(p, env)).docker.host, 'unix:///tmp/d.sock');
  const withHost = await file('host.yaml', 'docker:\n  host: unix:///x.sock\n');
  t.is((await loadConfig(withHost, env)).docker.host, 'unix:///x.sock', 'docker.host wins over DOCKER_HOST');
});

test('cri.address: a Kubernetes node with Docker off, or both runtimes', async (t) => {
  const criOnly = await file(
    'cri.yaml',
    'docker:\n  host: ""\ncri:\n  address: unix:///run/containerd/containerd.sock\n',
  );
  const c = await loadConfig(criOnly, {});
  t.is(c.docker.host, '');
  t.deepEqual(c.cri, { address: 'unix:///run/containerd/containerd.sock' });
  t.is((await loadConfig(await file('none.yaml', '# x\n'), {})).cri, undefined, 'off by default');
});

test('missing explicit file → ConfigError', async (t) => {
  const err = await t.throwsAsync(loadConfig(path.join(dir, 'nope.yaml'), {}), { instanceOf: ConfigError });
  t.regex(err.message, /nope\.yaml/);
});

test("image_secrets.pal_environment: the node's PAL environment, one word; absent by default", (t) => {
  const p = path.join(dir, 'env.yaml');
  t.deepEqual(parseConfig(p, '', {}).imageSecrets, {});
  t.is(parseConfig(p, 'image_secrets:\n  pal_environment: production\n', {}).imageSecrets.palEnvironment, 'production');
  for (const bad of ['""', '"../prod"', '"a b"', '[x]']) {
    const err = t.throws(() => parseConfig(p, `image_secrets:\n  pal_environment: ${bad}\n`, {}), {
      instanceOf: ConfigError,
    });
    t.regex(err.message, /image_secrets\.pal_environment/);
  }
  t.throws(() => parseConfig(p, 'image_secrets:\n  environment: prod\n', {}), { message: /unknown key/ });
});

test('a full config is read into the typed shape; relative paths resolve next to the file', async (t) => {
  const p = await file('full.yaml', FULL_CONFIG);
  const c = await loadConfig(p, {});
  t.is(c.mountpoint, '/run/pal2');
  t.is(c.manifest, path.join(dir, 'secrets.yaml'));
  t.is(c.keyPassphraseFile, path.join(dir, 'pass'));
  t.is(c.trust.mode, 'none');
  t.deepEqual(c.trust.notary, {
    server: 'https://127.0.0.1:4443',
    ca: path.join(dir, 'ca.pem'),
    timeoutMs: 2000,
    collections: [
      {
        gun: 'registry.example.com/billing/*',
        rootKeys: ['abc123', 'def456'],
        rootThreshold: 2,
        grants: ['billing', 'production-team-secret'],
        delegations: new Map([['targets/releases', ['billing']]]),
      },
    ],
  });
  t.deepEqual(c.limits, { openHandlesPerContainer: 16, lockedBytes: 1048576, secretBytes: 65536 });
  t.is(c.stateDir, path.join(dir, 'state'));
  t.is(c.redoctober?.server, 'https://127.0.0.1:8080');
  t.is(c.redoctober?.user, 'h');
  t.is(c.audit.path, '-');
  t.deepEqual(c.host.allowUids, [0, 1000]);
  t.deepEqual(c.cache, { plaintextTtlMs: 1000, plaintextMaxBytes: 4096 });
});

const bad: Array<[string, string, number, RegExp]> = [
  [
    'cri.address over tcp',
    'cri:\n  address: tcp://10.0.0.1:1\n',
    2,
    /cri\.address: "tcp:\/\/10\.0\.0\.1:1" is not unix:\/\/\/absolute\/path/,
  ],
  ['no runtime at all', 'docker:\n  host: ""\n', 1, /docker\.host: is "" \(off\) and no cri\.address is set/],
  ['unknown top-level key', 'mountpoint: /run/pal\nmountpont: /x\n', 2, /mountpont: unknown key/],
  ['unknown nested key', 'trust:\n  mode: none\n  nottary: {}\n', 3, /trust\.nottary: unknown key/],
  ['wrong type', 'host:\n  allow_uids: "0"\n', 2, /host\.allow_uids: expected a list/],
  ['bad list item', 'host:\n  allow_uids:\n    - 0\n    - root\n', 4, /host\.allow_uids\[1\]: expected an integer/],
  ['bad enum', 'trust:\n  mode: sometimes\n', 2, /trust\.mode: must be "signed" or "none"/],
  [
    'root threshold above the pinned keys',
    'trust:\n  notary:\n    collections:\n      - gun: a/b\n        root_keys: [k1]\n        root_threshold: 2\n',
    6,
    /root_threshold: 2 is more than the 1 pinned/,
  ],
  [
    'a grant outside the label grammar',
    'trust:\n  notary:\n    collections:\n      - gun: a/b\n        root_keys: [k1]\n        grants: [.ops]\n',
    6,
    /must start with a letter or digit/,
  ],
  [
    'an upper-case grant',
    'trust:\n  notary:\n    collections:\n      - gun: a/b\n        root_keys: [k1]\n        grants: [Ops]\n',
    6,
    /upper case/,
  ],
  [
    'secret_bytes above locked_bytes',
    'limits:\n  locked_bytes: 8192\n  secret_bytes: 9000\n',
    2,
    /secret_bytes: must not exceed/,
  ],
  ['section not a mapping', 'docker: yes\n', 1, /docker: expected a mapping/],
  [
    'collection without root keys',
    'trust:\n  notary:\n    collections:\n      - gun: a/b\n        grants: [x]\n',
    4,
    /root_keys: at least one/,
  ],
  ['syntax error', 'trust:\n  mode: none\n bad indent: [\n', 3, /YAML syntax error/],
  ['duplicate key', 'mountpoint: /a\nmountpoint: /b\n', 2, /YAML syntax error/],
  ['bad url', 'trust:\n  notary:\n    server: not a url\n', 3, /not a URL/],
];

for (const [what, text, line, re] of bad) {
  test(`error names file, line and key: ${what}`, (t) => {
    const p = path.join(dir, 'bad.yaml');
    const err = t.throws(() => parseConfig(p, text, {}), { instanceOf: ConfigError });
    t.regex(err.message, re);
    t.true(err.message.startsWith(`${p}:${line}:`), err.message);
    t.is(err.line, line);
  });
}
