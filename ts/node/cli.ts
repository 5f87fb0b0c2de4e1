#!/usr/bin/env node
// bce-wasm score <predictions> <targets> [--logits] [--json] [--per-class] [--threads N] [--chunk N]
//
// bce-wasm --version
//
// Exit codes: 0 the loss was printed; 2 usage error; 3 a file cannot be scored (missing, a directory,
// unreadable, no values, not .npy or text columns, unsupported dtype or order, truncated, shapes that
// differ, a text field that is not a number); 4 a value the loss rejects (a probability or target
// outside [0, 1], or NaN); 1 anything else. Positions in messages are 1-based.

import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { createPool, MAX_THREADS } from './pool.js';
import { FileError, score, ValueError } from './score.js';

const EXIT = { ok: 0, other: 1, usage: 2, file: 3, value: 4 } as const;

// The package's package.json, two levels up from dist/node/cli.js (and from ts/node/cli.ts).
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function positiveInt(name: string, max = Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max) {
      throw new InvalidArgumentError(max === Infinity ? `${name} must be a positive integer` : `${name} must be an integer from 1 to ${max}`);
    }
    return n;
  };
}

/** The largest --chunk: 2^26 elements (256 MiB of float32 per file and buffer). */
const MAX_CHUNK = 1 << 26;

const program = new Command()
  .name('bce-wasm')
  .description("PyTorch's binary cross-entropy over files of any size, in WebAssembly SIMD on all cores")
  .version(version, '-V, --version', 'print the version of bce-wasm')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command('score')
  .summary('print the loss of <predictions> against <targets>')
  .description(
    'Prints the loss of <predictions> against <targets>: .npy files (float32 or float64, C order, ' +
      'shape [N] or [N, C]) or text files of comma/whitespace separated columns, each field a decimal ' +
      'number or nan, inf, +inf, -inf, infinity, +infinity, -infinity in any case. Exit codes: 0 ok, ' +
      '2 usage, 3 bad file, 4 bad value, 1 other. Positions in messages are 1-based: file:line:column ' +
      'in a text file (line of the file, column = field), row, column and element in a .npy file.',
  )
  .argument('<predictions>', 'probabilities in [0, 1] (or logits with --logits)')
  .argument('<targets>', 'targets in [0, 1], same shape')
  .option('--logits', 'predictions are logits: BCEWithLogitsLoss instead of BCELoss')
  .option('--json', 'print one JSON object: {"loss", "mean", "sum", "count", "shape", "perClass"?}')
  .option('--per-class', 'also report the loss of each column of [N, C] data')
  .option('--threads <n>', 'worker threads (default: the machine)', positiveInt('--threads', MAX_THREADS))
  .option('--chunk <n>', `elements read per chunk from each file (at most ${MAX_CHUNK})`, positiveInt('--chunk', MAX_CHUNK), 1 << 20)
  .option('--quiet', 'no progress bar')
  .action(async (predictions: string, targets: string, opts) => {
    const bar = process.stderr.isTTY && !opts.quiet ? new SingleBar({ stream: process.stderr, hideCursor: true }, Presets.shades_classic) : null;
    const pool = createPool({ threads: opts.threads });
    bar?.start(100, 0);
    try {
      const r = await score(predictions, targets, pool, {
        logits: opts.logits,
        chunk: opts.chunk,
        perClass: opts.perClass,
        progress: (f) => bar?.update(Math.round(100 * f)),
      });
      bar?.stop();
      const loss = opts.logits ? 'BCEWithLogitsLoss' : 'BCELoss';
      if (opts.json) {
        process.stdout.write(JSON.stringify({ loss, ...r }) + '\n');
      } else {
        const lines = [
          `${loss} of ${predictions} against ${targets}, shape (${r.shape.join(', ')})`,
          `mean   ${r.mean}`,
          `sum    ${r.sum}`,
          `count  ${r.count}`,
        ];
        r.perClass?.forEach((k, i) => lines.push(`class ${i}: mean ${k.mean}, sum ${k.sum}, count ${k.count}`));
        process.stdout.write(lines.join('\n') + '\n');
      }
    } finally {
      bar?.stop();
      await pool.close();
    }
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // Help and version are not errors; commander has printed its message already.
    process.exitCode = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? EXIT.ok : EXIT.usage;
  } else if (e instanceof FileError || e instanceof ValueError) {
    process.stderr.write(`bce-wasm: ${e.message}\n`);
    process.exitCode = e instanceof FileError ? EXIT.file : EXIT.value;
  } else {
    process.stderr.write(`bce-wasm: ${(e as Error).stack ?? e}\n`);
    process.exitCode = EXIT.other;
  }
}
