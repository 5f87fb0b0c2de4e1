// npm run demo:browser: serves the repository root on localhost so that examples/browser/ can import
// the built package from /dist/ (no CDN, no bundler). Usage: node examples/browser/serve.mjs [port]
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Starts the server; resolves to `{ server, url }`. Port 0 picks a free one. */
export function serve(port = 8080, host = '127.0.0.1') {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (path === '/') {
      res.writeHead(302, { location: '/examples/browser/' });
      return res.end();
    }
    const file = normalize(ROOT + (path.endsWith('/') ? path + 'index.html' : path));
    if (!file.startsWith(ROOT) || file.includes(`${sep}node_modules${sep}`)) {
      res.writeHead(403);
      return res.end('forbidden');
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: ' + path);
    }
  });
  return new Promise((resolve) =>
    server.listen(port, host, () => resolve({ server, url: `http://${host}:${server.address().port}/` })),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await serve(Number(process.argv[2] ?? 8080));
  console.log(`bce-wasm browser demo: ${url}examples/browser/  (Ctrl-C to stop)`);
}
