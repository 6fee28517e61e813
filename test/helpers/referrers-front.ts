// Test helper: a front for the real docker-registry that adds what Distribution 2.8 lacks, the OCI 1.1
// referrers API (as zot, Harbor or a cloud registry serve it), paged `pageSize` at a time with `Link:
// <…>; rel="next"` headers. The listing is the registry's own referrers tag index (what pushReferrer
// writes); every other request is passed through to the registry unchanged. Loopback only, port 0,
// closed by the caller.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchManifest, OCI_INDEX, type Descriptor, type TestRegistry } from '../../scripts/components/registry.js';

export interface ReferrersFront {
  /** "127.0.0.1:PORT": use it as the registry host in repository names. */
  readonly host: string;
  /** Every referrers API request (path and query), in order. */
  readonly referrersRequests: string[];
  /** Replace the next link of every page (a hostile registry). */
  nextLinkOverride?: (repo: string, subject: string, page: number) => string;
  close(): Promise<void>;
}

const REFERRERS = /^\/v2\/(.+)\/referrers\/(sha256:[0-9a-f]{64})$/;

function passThrough(reg: TestRegistry, req: IncomingMessage, res: ServerResponse): void {
  const upstream = request(
    { host: '127.0.0.1', port: reg.port, method: req.method, path: req.url, headers: req.headers },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.on('error', () => {
    res.writeHead(502);
    res.end();
  });
  req.pipe(upstream);
}

export async function startReferrersFront(reg: TestRegistry, pageSize: number): Promise<ReferrersFront> {
  const front: ReferrersFront = { host: '', referrersRequests: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://front');
    const m = req.method === 'GET' ? REFERRERS.exec(url.pathname) : null;
    if (m === null) return passThrough(reg, req, res);
    front.referrersRequests.push(`${url.pathname}${url.search}`);
    const [, repo, subject] = m as unknown as [string, string, string];
    void (async () => {
      const tagged = await fetchManifest(reg, repo, subject.replace(':', '-'));
      let all = tagged ? (JSON.parse(tagged.toString()) as { manifests: Descriptor[] }).manifests : [];
      const artifactType = url.searchParams.get('artifactType');
      if (artifactType !== null) all = all.filter((d) => d.artifactType === artifactType);
      const last = url.searchParams.get('last');
      const start = last === null ? 0 : all.findIndex((d) => d.digest === last) + 1;
      const page = all.slice(start, start + pageSize);
      const headers: Record<string, string> = { 'Content-Type': OCI_INDEX };
      if (artifactType !== null) headers['OCI-Filters-Applied'] = 'artifactType';
      if (start + pageSize < all.length || front.nextLinkOverride !== undefined) {
        const next = new URLSearchParams({ n: String(pageSize), last: page[page.length - 1]?.digest ?? '' });
        if (artifactType !== null) next.set('artifactType', artifactType);
        const link = front.nextLinkOverride?.(repo, subject, start / pageSize) ?? `${url.pathname}?${next.toString()}`;
        headers['Link'] = `<${link}>; rel="next"`;
      }
      res.writeHead(200, headers);
      res.end(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: page }));
    })().catch(() => {
      res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(front, {
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}
