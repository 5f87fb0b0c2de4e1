#!/usr/bin/env node
// bce-wasm score <predictions> <targets> [--logits] [--focal [--gamma G] [--alpha A]] [--label-smoothing E]
//                 [--mask FILE] [--weight W,...] [--reduction mean|weightedMean|rowMean [--out FILE.npy]]
//                 [--json] [--per-class] [--threads N] [--chunk N]
//
// bce-wasm --version
//
// Exit codes: 0 the loss was printed; 2 usage error (an option value that is not a decimal number or
// out of range, options that do not go together, --out naming an input file); 3 a file cannot be scored
// (missing, a directory, unreadable, no values, not .npy or text columns, unsupported dtype or order,
// truncated or bytes after a .npy file's data, shapes that differ ([N, 1] is [N]), a text field that is
// not a number, a text line longer than 64 MiB); 4 a value the loss rejects (a probability or target
// outside [0, 1], or NaN, as the float32 it is rounded to; a mask value other than 0 or 1 as written);
// 1 anything else. Positions in messages are 1-based.

import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { createPool, MAX_THREADS } from './pool.js';
import { FileError, parseField, score, shown, ValueError, writeNpy, type Score } from './score.js';

const EXIT = { ok: 0, other: 1, usage: 2, file: 3, value: 4 } as const;

// The package's package.json, two levels up from dist/node/cli.js (and from ts/node/cli.ts).
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

// Numbers on the command line have one grammar, the text files' (parseField): a decimal number with an
// optional sign, fraction and exponent (`2`, `-1`, `0.25`, `.5`, `5.`, `1e-3`, `+2E+1`, what Python's
// float() reads) or nan/inf/infinity in any case; nothing else: no hexadecimal, binary or octal
// (`0x1`, `0b11`, `0o1`, which Number() would take), no digit separators, no whitespace. Counts are
// decimal digits with an optional '+'. A value outside this grammar or out of range is a usage error
// (exit 2); commander's message names the option and the value.

/** `v` quoted for a message, with its control characters escaped. */
const quoted = (v: string) => `'${shown(v)}'`;

/** An integer from 1 to `max` written in decimal digits. */
function positiveInt(name: string, max = Infinity) {
  return (v: string): number => {
    const n = /^\+?[0-9]+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > max) {
      const range = max === Infinity ? 'a positive integer' : `an integer from 1 to ${max}`;
      throw new InvalidArgumentError(`${name} must be ${range} in decimal digits, got ${quoted(v)}`);
    }
    return n;
  };
}

/** A finite number from `lo` to `hi` in the decimal grammar above (a usage error otherwise). */
function numberIn(name: string, lo: number, hi: number, what: string, float32 = false) {
  return (v: string): number => {
    const n = parseField(v);
    if (n === undefined) throw new InvalidArgumentError(`${name} must be ${what}: ${quoted(v)} is not a decimal number (digits with an optional sign, point and exponent: 0.5, -1, 1e-3)`);
    // With `float32`, finite as the float32 the kernel takes (1e39 is not), as in numberList.
    if (!Number.isFinite(float32 ? Math.fround(n) : n) || n < lo || n > hi) throw new InvalidArgumentError(`${name} must be ${what}, got ${v}`);
    return n;
  };
}

/** A comma-separated list of finite decimal numbers (no spaces). */
function numberList(name: string) {
  return (v: string): number[] => {
    const fields = v.split(',');
    const list = fields.map(parseField);
    // Finite as the float32 the kernels take (1e39 is finite as a double, infinite as a float32).
    const bad = list.findIndex((n) => n === undefined || !Number.isFinite(Math.fround(n)));
    if (bad >= 0) {
      const field =
        fields[bad] === '' ? 'is empty'
        : Number.isFinite(list[bad]) ? `${quoted(fields[bad])} is beyond float32's range (about 3.4e38)`
        : `${quoted(fields[bad])} is not a finite decimal number`;
      throw new InvalidArgumentError(`${name} must be finite numbers separated by commas (one per column, in decimal, no spaces): value ${bad + 1} ${field}`);
    }
    return list as number[];
  };
}

/** A usage error found after parsing (options that do not go together): exit 2, like commander's. */
class UsageError extends Error {}

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
      'number or nan, inf, +inf, -inf, infinity, +infinity, -infinity in any case; a shape [N, 1] is [N]. ' +
      'Numbers in options are decimal too (no 0x, 0b, 0o, spaces or _). Exit codes: 0 ok, ' +
      '2 usage, 3 bad file, 4 bad value, 1 other. Positions in messages are 1-based: file:line:column ' +
      'in a text file (line of the file, column = field), row, column and element in a .npy file.',
  )
  .argument('<predictions>', 'probabilities in [0, 1] (or logits with --logits)')
  .argument('<targets>', 'targets in [0, 1], same shape')
  .allowExcessArguments(false)
  .option('--logits', 'predictions are logits: BCEWithLogitsLoss instead of BCELoss')
  .option('--focal', "torchvision's sigmoid_focal_loss of the logits instead (with --logits)")
  .option('--gamma <g>', 'focal loss: the focusing exponent, a number >= 0 (default 2)', numberIn('--gamma', 0, Infinity, 'a finite number >= 0 in float32', true))
  .option('--alpha <a>', 'focal loss: the weight of the positive class, at most 1; negative: no class weighting (default 0.25)',
    numberIn('--alpha', -Infinity, 1, 'a finite number at most 1'))
  .option('--label-smoothing <e>', 'smooth the targets: y * (1 - e) + e / 2, e in [0, 1]', numberIn('--label-smoothing', 0, 1, 'a number from 0 to 1'))
  .option('--mask <file>', 'a .npy (float32, float64, bool or uint8) or text file of 0/1, the predictions\' shape: elements with 0 are left out (not counted, not checked)')
  .option('--weight <w,...>', 'one weight per column (the loss of column k times w[k])', numberList('--weight'))
  .addOption(new Option('--reduction <r>', "'mean' (the mean and sum over the counted elements), 'weightedMean' " +
    "(sum(w l) / sum(w)) or 'rowMean' (one mean per row: to --out, else JSON on stdout)").choices(['mean', 'weightedMean', 'rowMean']).default('mean'))
  .option('--out <file.npy>', "with --reduction rowMean: write the row means to this float32 .npy file (not one of the input files)")
  .option('--json', 'print one JSON object: {"loss", "reduction", "mean", "sum", "count", "shape", "perClass"?, "weightedMean"?, "weightSum"?}; NaN and infinities as the strings "NaN", "Infinity", "-Infinity"')
  .option('--per-class', 'also report the loss of each column of [N, C] data')
  .option('--threads <n>', 'worker threads (default: the machine)', positiveInt('--threads', MAX_THREADS))
  .option('--chunk <n>', `elements read per chunk from each file (at most ${MAX_CHUNK})`, positiveInt('--chunk', MAX_CHUNK), 1 << 20)
  .option('--quiet', 'no progress bar')
  .action(async (predictions: string, targets: string, opts) => {
    checkCombination(opts);
    if (opts.out !== undefined) checkOut(opts.out, { predictions, targets, ...(opts.mask !== undefined ? { mask: opts.mask } : {}) });
    const bar = process.stderr.isTTY && !opts.quiet ? new SingleBar({ stream: process.stderr, hideCursor: true }, Presets.shades_classic) : null;
    const pool = createPool({ threads: opts.threads });
    bar?.start(100, 0);
    try {
      const r = await score(predictions, targets, pool, {
        logits: opts.logits,
        focal: opts.focal ? { alpha: opts.alpha ?? 0.25, gamma: opts.gamma ?? 2 } : undefined,
        labelSmoothing: opts.labelSmoothing,
        mask: opts.mask,
        weight: opts.weight,
        reduction: opts.reduction,
        chunk: opts.chunk,
        perClass: opts.perClass,
        progress: (f) => bar?.update(Math.round(100 * f)),
      });
      bar?.stop();
      if (r.rowMean && opts.out) await writeNpy(opts.out, r.rowMean);
      process.stdout.write(report(predictions, targets, r, opts));
    } finally {
      bar?.stop();
      await pool.close();
    }
  });

interface CliOptions {
  logits?: boolean;
  focal?: boolean;
  gamma?: number;
  alpha?: number;
  labelSmoothing?: number;
  mask?: string;
  weight?: number[];
  reduction: 'mean' | 'weightedMean' | 'rowMean';
  out?: string;
  json?: boolean;
  perClass?: boolean;
}

/** Options that do not go together: a UsageError (exit 2) before any file is read. */
function checkCombination(o: CliOptions): void {
  if (o.focal && !o.logits) throw new UsageError("--focal takes logits (torchvision's sigmoid_focal_loss): pass --logits too");
  for (const k of ['gamma', 'alpha'] as const) if (o[k] !== undefined && !o.focal) throw new UsageError(`--${k} is an option of --focal`);
  if (o.out !== undefined && o.reduction !== 'rowMean') throw new UsageError('--out writes the row means of --reduction rowMean');
  if (o.out !== undefined && !o.out.toLowerCase().endsWith('.npy')) throw new UsageError(`--out must name a .npy file, not '${o.out}'`);
  if (o.reduction === 'rowMean' && o.perClass) throw new UsageError('--per-class and --reduction rowMean do not go together');
}

/**
 * Refuses an `--out` that is one of the input files (a UsageError, before anything is read): the same
 * path once resolved, or, when both exist, the same file (device and inode: a symbolic or hard link).
 */
function checkOut(out: string, inputs: Record<string, string>): void {
  const id = (file: string) => {
    try {
      const s = statSync(file);
      return `${s.dev}:${s.ino}`;
    } catch {
      return undefined; // missing or unreadable: only the path is compared (reading it reports the rest)
    }
  };
  const outId = id(out);
  for (const [role, file] of Object.entries(inputs)) {
    if (resolve(out) === resolve(file) || (outId !== undefined && id(file) === outId)) {
      const same = resolve(out) === resolve(file) ? '' : ` (${file}, the same file under another name)`;
      throw new UsageError(`--out ${out} is the ${role} file${same}: writing the row means there would overwrite it; name another file`);
    }
  }
}

/** The loss's name, as PyTorch and torchvision call it. */
const lossName = (o: CliOptions) => (o.focal ? 'sigmoid_focal_loss' : o.logits ? 'BCEWithLogitsLoss' : 'BCELoss');

/**
 * One line of JSON in which NaN, Infinity and -Infinity (a row with nothing kept, NaN or infinite
 * logits) are the strings "NaN", "Infinity" and "-Infinity", which JSON.stringify would all make
 * null; Python's float() and JavaScript's Number() read them back.
 */
const toJson = (value: object): string =>
  JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)) + '\n';

/** The most row means printed as JSON (more must go to --out). */
const MAX_JSON_ROWS = 2 ** 24;

/** What is printed: text, or one JSON object (always JSON for row means not written to --out). */
function report(predictions: string, targets: string, r: Score, o: CliOptions): string {
  const loss = lossName(o);
  const settings = {
    ...(o.focal ? { alpha: o.alpha ?? 0.25, gamma: o.gamma ?? 2 } : {}),
    ...(o.labelSmoothing !== undefined ? { labelSmoothing: o.labelSmoothing } : {}),
    ...(o.mask !== undefined ? { mask: o.mask } : {}),
    ...(o.weight !== undefined ? { weight: o.weight } : {}),
  };
  const { rowMean, ...rest } = r;
  if (rowMean && o.out === undefined) {
    // JSON of more than 2^24 numbers nears the longest string the engine makes (about 28M row means
    // of 19 characters ended in 'Invalid string length' and a stack trace): a usage error instead.
    if (rowMean.length > MAX_JSON_ROWS) {
      throw new UsageError(`--reduction rowMean: ${rowMean.length} row means are too many to print as JSON (at most ${MAX_JSON_ROWS}); write them to a file with --out FILE.npy`);
    }
    return toJson({ loss, reduction: o.reduction, ...settings, shape: r.shape, rowLength: r.rowLength, rows: rowMean.length, rowMean: Array.from(rowMean) });
  }
  const out = rowMean ? { out: o.out, rows: rowMean.length } : {};
  if (o.json) return toJson({ loss, reduction: o.reduction, ...settings, ...rest, ...out });
  const extras = Object.entries(settings).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : v}`);
  const lines = [`${loss} of ${predictions} against ${targets}, shape (${r.shape.join(', ')})${extras.length ? `; ${extras.join(', ')}` : ''}`];
  if (r.weightedMean !== undefined) lines.push(`weighted mean ${r.weightedMean}`, `weight sum    ${r.weightSum}`);
  if (rowMean) lines.push(`row means of ${r.rowLength} written to ${o.out} (${rowMean.length} rows)`);
  lines.push(`mean   ${r.mean}`, `sum    ${r.sum}`, `count  ${r.count}`);
  r.perClass?.forEach((k, i) => lines.push(`class ${i}: mean ${k.mean}, sum ${k.sum}, count ${k.count}`));
  return lines.join('\n') + '\n';
}

// A result that cannot be written to stdout (closed, a full device, a pipe whose reader has gone) is
// a one-line error with the file error's exit code, not a stack trace or a silent 0.
let stdoutError: NodeJS.ErrnoException | undefined;
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (stdoutError !== undefined) return;
  stdoutError = e;
  process.stderr.write(`bce-wasm: cannot write the result to stdout: ${e.code ?? e.message}\n`);
  process.exitCode = EXIT.file;
});

// No top-level await: Node 20-22's module evaluation with one has a rare fatal V8 check
// ('Check failed: (location_) != nullptr', nodejs/node#53238), seen here in about one run in 150.
async function main(): Promise<void> {
  // No command at all is a usage error (commander shows the help and ends as for `help`): the help
  // on stderr, exit 2.
  if (process.argv.length <= 2) {
    program.outputHelp({ error: true });
    process.exitCode = EXIT.usage;
    return;
  }
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version are not errors; commander has printed its message already.
      // (`help [command]` ends with 'commander.help'; `--help` with 'commander.helpDisplayed'.)
      process.exitCode = e.code === 'commander.help' || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    } else if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n`);
      process.exitCode = EXIT.usage;
    } else if (e instanceof FileError || e instanceof ValueError) {
      process.stderr.write(`bce-wasm: ${e.message}\n`);
      process.exitCode = e instanceof FileError ? EXIT.file : EXIT.value;
    } else {
      process.stderr.write(`bce-wasm: ${(e as Error).stack ?? e}\n`);
      process.exitCode = EXIT.other;
    }
  }
}

void main();
