// The bce-wasm score CLI end to end, through the package's bin, on generated .npy and text files.
import { execFileSync, spawn, type ExecFileSyncOptions } from 'node:child_process';
import { chmodSync, constants as fsConstants, copyFileSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as bce from 'bce-wasm';
import './setup.js';
import * as ref from './reference.js';

const require = createRequire(import.meta.url);
const pkg = require.resolve('bce-wasm/package.json');
const BIN = join(dirname(pkg), JSON.parse(readFileSync(pkg, 'utf8')).bin['bce-wasm']);
const dir = mkdtempSync(join(tmpdir(), 'bce-cli-'));

/**
 * Writes a .npy file (version 1.0) as numpy's np.save does: `descr` defaults to the array's dtype
 * (`'<f4'`, `'<f8'`, `'|u1'`), `shapeText` replaces the shape tuple's text (for malformed headers),
 * `header` the whole dict's text.
 */
function npy(
  name: string,
  data: Float32Array | Float64Array | Uint8Array,
  shape: number[],
  { descr, fortran = false, shapeText, header: dict }: { descr?: string; fortran?: boolean; shapeText?: string; header?: string } = {},
): string {
  const d = descr ?? (data instanceof Float64Array ? '<f8' : data instanceof Uint8Array ? '|u1' : '<f4');
  const tuple = shapeText ?? `${shape.join(', ')}${shape.length === 1 ? ',' : ''}`;
  let header = dict ?? `{'descr': '${d}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${tuple}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
  return file;
}

function text(name: string, rows: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, rows.join('\n') + '\n');
  return file;
}

function run(...args: string[]): { code: number; stdout: string; stderr: string } {
  return runWith({}, ...args);
}

/** Runs the CLI with `options` (and `node` instead of this process's Node when given). */
function runWith({ node = process.execPath, ...options }: ExecFileSyncOptions & { node?: string }, ...args: string[]): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(node, [BIN, ...args], { ...options, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, stdout, stderr: '' };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, stdout: err.stdout, stderr: err.stderr };
  }
}

await bce.init(); // the data below is made at load time, before the setup hook runs

const N = 2000;
const C = 4;
const next = ref.rng(99);
const z = ref.f32s(N * C, () => (next() - 0.5) * 12);
const p = bce.sigmoid(z);
const y = ref.f32s(N * C, () => (next() < 0.5 ? 0 : 1));
const files = {
  z: npy('z.npy', z, [N, C]),
  z64: npy('z64.npy', Float64Array.from(z), [N, C]),
  p: npy('p.npy', p, [N, C]),
  y: npy('y.npy', y, [N, C]),
  yCsv: text('y.csv', ['a,b,c,d', ...Array.from({ length: N }, (_, r) => Array.from(y.subarray(r * C, r * C + C)).join(','))]),
  pTxt: text('p.txt', Array.from({ length: N }, (_, r) => Array.from(p.subarray(r * C, r * C + C), (v) => v.toPrecision(9)).join('  '))),
};

describe('bce-wasm score', () => {
  it('logits from .npy: the same mean as one call, as JSON, per class too', () => {
    const r = run('score', files.z, files.y, '--logits', '--json', '--per-class');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ loss: 'BCEWithLogitsLoss', count: N * C, shape: [N, C] });
    ref.expectRel(out.mean, bce.binaryCrossEntropyWithLogits(z, y), 1e-12);
    ref.expectRel(out.sum, bce.binaryCrossEntropyWithLogits(z, y, { reduction: 'sum' }), 1e-12);
    expect(out.perClass).toHaveLength(C);
    const first = bce.binaryCrossEntropyWithLogits(z, y, { reduction: 'sum', weight: [1, 0, 0, 0] });
    ref.expectRel(out.perClass[0].sum, first, 1e-6);
  });

  it('float64 .npy, CSV with a header, whitespace text: all agree; any chunk size gives the same result', () => {
    const a = JSON.parse(run('score', files.z64, files.yCsv, '--logits', '--json').stdout);
    const b = JSON.parse(run('score', files.z, files.y, '--logits', '--json', '--chunk', '7', '--threads', '2').stdout);
    ref.expectRel(a.mean, b.mean, 1e-12);
    const c = JSON.parse(run('score', files.pTxt, files.yCsv, '--json').stdout);
    expect(c.loss).toBe('BCELoss');
    ref.expectRel(c.mean, bce.binaryCrossEntropy(p, y), 1e-6);
  });

  it('prints the loss as text by default', () => {
    const r = run('score', files.p, files.y);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^BCELoss of .*p\.npy against .*y\.npy, shape \(2000, 4\)\nmean   \d+\.\d+\nsum    \d+\.\d+\ncount  8000\n$/);
  });

  const bad: [string, () => string[], number, RegExp][] = [
    ['a dtype other than float32/float64', () => [npy('i.npy', new Float32Array(8), [8], { descr: '<i4' }), files.y], 3, /i\.npy: dtype '<i4' is not supported/],
    ['Fortran order', () => [npy('f.npy', z, [N, C], { fortran: true }), files.y], 3, /f\.npy: Fortran-order arrays are not supported/],
    ['a truncated .npy', () => {
      const full = readFileSync(files.z);
      const f = join(dir, 'cut.npy');
      writeFileSync(f, full.subarray(0, full.length - 10));
      return [f, files.y, '--logits'];
    }, 3, /cut\.npy: truncated: shape \(2000, 4\) needs 8000 values .* it ends at value 7997/],
    ['not a .npy file', () => [text('fake.npy', ['1,2,3']), files.y], 3, /fake\.npy: not a \.npy file/],
    // Shapes numpy's reader refuses (an outside tester's finding: these scored with exit 0).
    ['a shape that is an int, not a tuple: (3)', () => [npy('int.npy', new Float32Array([0.1, 0.9, 0.5]), [3], { shapeText: '3' }), text('y3c.csv', ['0', '1', '1'])], 3, /int\.npy: unreadable \.npy header: shape \(3\) is not a Python tuple/],
    ['a shape with a doubled comma: (3,,)', () => [npy('cc.npy', new Float32Array([0.1, 0.9, 0.5]), [3], { shapeText: '3,,' }), text('y3d.csv', ['0', '1', '1'])], 3, /cc\.npy: unreadable \.npy header: shape \(3,,\)/],
    ['a shape (,)', () => [npy('c.npy', new Float32Array([0.1]), [1], { shapeText: ',' }), text('y1.csv', ['0'])], 3, /c\.npy: unreadable \.npy header: shape \(,\)/],
    ['a dimension with a leading zero: (0003,)', () => [npy('z3.npy', new Float32Array([0.1, 0.9, 0.5]), [3], { shapeText: '0003,' }), text('y3e.csv', ['0', '1', '1'])], 3, /z3\.npy: shape \(0003,\) is not supported/],
    ['shapes that differ', () => [npy('short.npy', z.subarray(0, 4000), [1000, C]), files.y, '--logits'], 3, /shape mismatch: .*short\.npy has \(1000, 4\), .*y\.npy has \(2000, 4\)/],
    ['a text file shorter than the other', () => [text('short.csv', ['0.5', '0.5']), files.y], 3, /short\.csv ends at value 2/],
    ['a word in a text file', () => [text('word.csv', ['0.5,0.5', '0.5,oops']), text('y2.csv', ['1,1', '1,1'])], 3, /word\.csv:2:2: 'oops' is not a number/],
    ['ragged text columns', () => [text('rag.csv', ['0.5,0.5', '0.5']), text('y3.csv', ['1,1', '1,1'])], 3, /rag\.csv:2:2: 1 column, but the first data line has 2/],
    ['a missing file', () => [join(dir, 'nope.npy'), files.y], 3, /nope\.npy: cannot read/],
    ['NaN where probabilities are expected', () => {
      const q = p.slice();
      q[4 * 123 + 2] = NaN;
      return [npy('nan.npy', q, [N, C]), files.y];
    }, 4, /nan\.npy: row 124, column 3 \(element 495\): probability NaN is not in \[0, 1\]$/m],
    ['a target outside [0, 1]', () => {
      const t = y.slice();
      t[7000] = 2;
      return [files.p, npy('t.npy', t, [N, C])];
    }, 4, /t\.npy: row 1751, column 1 \(element 7001\): target 2 is not in \[0, 1\]$/m],
    ['a missing argument', () => ['--json'], 2, /missing required argument/],
    ['a bad option value', () => [files.p, files.y, '--chunk', '0'], 2, /--chunk must be an integer from 1 to 67108864/],
    ['more threads than a pool takes', () => [files.p, files.y, '--threads', '100000'], 2, /--threads must be an integer from 1 to 1024/],
  ];

  it.each(bad)('%s: exit code and a message naming the file and position', (_name, args, code, message) => {
    const r = run('score', ...args());
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });
});

/** Exit code `code`, one line on stderr matching `message` (no stack trace), nothing on stdout. */
function expectError(r: { code: number; stdout: string; stderr: string }, code: number, message: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stdout).toBe('');
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('bce-wasm score: every field of a text file is a number', () => {
  it('a row ending in a comma is an error at the empty field, not a column of zeros', () => {
    const pred = text('trailing.csv', ['0.1,', '0.2,', '0.3,', '0.4,', '0.5,', '0.6,']);
    const targ = text('trailing-y.csv', Array(6).fill('1,0'));
    expectError(run('score', pred, targ), 3, /trailing\.csv:1:2: empty field/);
  });

  // [case, lines of the predictions file (targets: all 1, same shape), line:column, the field or '' for an empty one]
  const fields: [string, string[], string, string][] = [
    ['a trailing comma', ['0.5,0.5', '0.5,0.5,'], '2:3', ''],
    ['a trailing semicolon', ['0.5;0.5', '0.5;0.5;'], '2:3', ''],
    ['two commas', ['0.5,0.5', '0.5,,0.5'], '2:2', ''],
    ['a leading comma', ['0.5,0.5', ',0.5'], '2:1', ''],
    ['a blank between commas', ['0.5,0.5,0.5', '0.5, ,0.5'], '2:2', ''],
    ['a trailing comma and spaces', ['0.5', '0.5 , '], '2:2', ''],
    ['a leading comma on the first line', [',0.5', '0.5,0.5'], '1:1', ''],
    ['a number with letters after it', ['0.5,0.5', '0.5,0.5abc'], '2:2', '0.5abc'],
    ['hexadecimal', ['0.5,0.5', '0x10,0.5'], '2:1', '0x10'],
    ['binary', ['0.5,0.5', '0.5,0b1'], '2:2', '0b1'],
    ['octal', ['0.5,0.5', '0.5,0o1'], '2:2', '0o1'],
    ['an exponent without digits', ['0.5,0.5', '0.5,1e'], '2:2', '1e'],
    ['a lone sign', ['0.5,0.5', '+,0.5'], '2:1', '+'],
    ['a lone point', ['0.5,0.5', '0.5,.'], '2:2', '.'],
    ['two signs', ['0.5', '--1'], '2:1', '--1'],
    ['a digit separator', ['0.5', '1_0'], '2:1', '1_0'],
    ['a misspelt infinity', ['0.5', 'infinit'], '2:1', 'infinit'],
    ['a signed nan', ['0.5', '-nan'], '2:1', '-nan'],
    ['a first line of one non-number (not a header)', ['1e', '0.5'], '1:1', '1e'],
    ['a first line of hexadecimal (not a header)', ['0x1', '0.5'], '1:1', '0x1'],
    ['a first line of signs and points (not a header)', ['.,+', '0.5,0.5'], '1:1', '.'],
  ];
  it.each(fields.map((f, i) => [...f, i] as const))('%s: exit 3 naming file:line:column', (_name, lines, at, field, i) => {
    const columns = lines[0].split(/[,;\s]+/).length;
    const pred = text(`field${i}.csv`, lines);
    const targ = text(`field${i}-y.csv`, lines.map(() => Array(columns).fill('1').join(',')));
    const what = field === '' ? 'empty field' : `'${esc(field)}' is not a number`;
    expectError(run('score', pred, targ), 3, new RegExp(`field${i}\\.csv:${at}: ${what}`));
  });

  it('decimal commas (0,5;0,7) are an error, not four numbers', () => {
    const pred = text('decimal-commas.csv', ['0.5;0.5', '0,5;0,7']);
    const targ = text('decimal-commas-y.csv', ['1;1', '1;1']);
    expectError(run('score', pred, targ), 3, /decimal-commas\.csv:2: .*decimal commas are not supported/);
  });

  it('separators: commas, semicolons, whitespace runs, spaces around a comma; a header of names; comments and blank lines', () => {
    const pred = text('seps.csv', ['a, b ;c', '# comment', '', '0.25 , 0.5;0.75', '  0.125\t0.5   0.25  ', '1e-1,+.5,5.e-1']);
    const targ = text('seps-y.csv', ['1,0,1', '0,1,0', '1,1,1']);
    const r = run('score', pred, targ, '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ count: 9, shape: [3, 3] });
    const x = Float32Array.of(0.25, 0.5, 0.75, 0.125, 0.5, 0.25, 0.1, 0.5, 0.5);
    const t = Float32Array.of(1, 0, 1, 0, 1, 0, 1, 1, 1);
    ref.expectRel(out.sum, bce.binaryCrossEntropy(x, t, { reduction: 'sum' }), 1e-6);
  });
});

describe('bce-wasm score: files that cannot be scored', () => {
  const y1 = text('one.csv', ['1']);

  it('a directory: exit 3, one line naming it, no stack trace', () => {
    const d = join(dir, 'a-directory');
    mkdirSync(d);
    expectError(run('score', d, y1), 3, /a-directory: is a directory$/m);
    expectError(run('score', y1, d), 3, /a-directory: is a directory$/m);
    mkdirSync(join(dir, 'dir.npy'));
    expectError(run('score', join(dir, 'dir.npy'), y1), 3, /dir\.npy: is a directory$/m);
  });

  it('a missing file: exit 3, one line', () => {
    expectError(run('score', y1, join(dir, 'missing.csv')), 3, /missing\.csv: cannot read: no such file or directory/);
  });

  /**
   * This Node as a path another user may run: process.execPath, or, when a directory above it is closed
   * to others (a Node kept under /root), a hard link to it (a copy across file systems) in `dir`.
   */
  function nodeForOthers(): string {
    for (let d = dirname(process.execPath); d !== dirname(d); d = dirname(d)) {
      if ((statSync(d).mode & 0o001) === 0) {
        const node = join(dir, 'node');
        try {
          linkSync(process.execPath, node);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
          copyFileSync(process.execPath, node, fsConstants.COPYFILE_EXCL);
          chmodSync(node, 0o755);
        }
        return node;
      }
    }
    return process.execPath;
  }

  it('permission denied: exit 3, one line', () => {
    // Root reads any file: run the CLI as nobody then, in a directory it may enter, with a Node it may run.
    const asRoot = process.getuid?.() === 0;
    const node = asRoot ? nodeForOthers() : process.execPath;
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(dir, 0o755);
    chmodSync(open, 0o755);
    const readable = join(open, 'y.csv');
    writeFileSync(readable, '1\n', { mode: 0o644 });
    for (const name of ['secret.csv', 'secret.npy']) {
      const f = join(open, name);
      writeFileSync(f, '0.5\n', { mode: 0o000 });
      chmodSync(f, 0o000);
      const r = runWith(asRoot ? { uid: 65534, gid: 65534, node } : {}, 'score', f, readable);
      expectError(r, 3, new RegExp(`${esc(name)}: cannot read: permission denied`));
    }
    if (node !== process.execPath) rmSync(node);
  });

  it('an empty file, or one with no values: exit 3 naming it', () => {
    const empty = text('empty.csv', []);
    writeFileSync(empty, '');
    expectError(run('score', empty, empty), 3, /empty\.csv: no values/);
    const headerOnly = text('header-only.csv', ['p', '# nothing else', '']);
    expectError(run('score', headerOnly, y1), 3, /header-only\.csv: no values/);
    expectError(run('score', npy('none.npy', new Float32Array(0), [0]), npy('none-y.npy', new Float32Array(0), [0])), 3, /none\.npy: no values/);
    writeFileSync(join(dir, 'zero.npy'), '');
    expectError(run('score', join(dir, 'zero.npy'), y1), 3, /zero\.npy: not a \.npy file/);
  });

  it('a FIFO: text is streamed from it; a .npy file must be a regular file', () => {
    const fifo = join(dir, 'fifo.csv');
    const fifoNpy = join(dir, 'fifo.npy');
    execFileSync('mkfifo', [fifo, fifoNpy]);
    // The writer opens the FIFO once the CLI does, writes and closes: the CLI sees the end.
    const writer = spawn('sh', ['-c', 'printf "0.25\\n0.5\\n" > "$1"', 'sh', fifo], { stdio: 'ignore' });
    try {
      const r = runWith({ timeout: 20_000 }, 'score', fifo, text('two.csv', ['1', '0']), '--json');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ count: 2, shape: [2] });
    } finally {
      writer.kill();
    }
    // No writer: the CLI must refuse the .npy FIFO without waiting for one.
    expectError(runWith({ timeout: 20_000 }, 'score', fifoNpy, y1), 3, /fifo\.npy: not a regular file/);
  });
});

describe('bce-wasm score: value errors', () => {
  it('name the line and column of a text file, 1-based, counting the header, comments and blank lines', () => {
    const pred = text('where.csv', ['p,q', '# comment', '0.5,0.5', '', '0.25,1.5']);
    const targ = text('where-y.csv', ['1,1', '1,1']);
    expectError(run('score', pred, targ), 4, /where\.csv:5:2: probability 1\.5 is not in \[0, 1\]/);
    const targ2 = text('where-y2.csv', ['y,z', '1,1', '# comment', '1,-1']);
    expectError(run('score', text('where-p2.csv', ['0.5,0.5', '0.5,0.5']), targ2), 4, /where-y2\.csv:4:2: target -1 is not in \[0, 1\]/);
  });

  it('name the position across chunk boundaries', () => {
    const rows = Array.from({ length: 50 }, () => '0.5,0.5,0.5');
    rows[37] = '0.5,0.5,7';
    const pred = text('chunked.csv', ['# a comment', ...rows]);
    const targ = text('chunked-y.csv', Array(50).fill('1,0,1'));
    expectError(run('score', pred, targ, '--chunk', '4'), 4, /chunked\.csv:39:3: probability 7 is not in \[0, 1\]/);
  });

  it('--help says positions are 1-based', () => {
    expect(run('score', '--help').stdout).toMatch(/1-based/);
  });

  it('print a float32 value as the shortest decimal that reads back as it', () => {
    const pred = text('short-p.csv', ['0.5', '1.9072']);
    const r = run('score', pred, text('short-y.csv', ['1', '1']));
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/ 1\.9072\b/);
    expect(r.stderr).not.toMatch(/1\.9071999/);
    const t = run('score', text('short-p2.csv', ['0.5', '0.5']), text('short-y2.csv', ['1', '1.1']));
    expect(t.code).toBe(4);
    expect(t.stderr).toMatch(/ 1\.1 /);
    const f64 = run('score', npy('short.npy', Float64Array.of(0.5, 1.9072), [2]), text('short-y3.csv', ['1', '1']));
    expect(f64.code).toBe(4);
    expect(f64.stderr).toMatch(/ 1\.9072 /);
  });

  it('suggest --logits for a finite probability outside [0, 1] whose target is in [0, 1]', () => {
    const hint = /looks like logits: pass --logits/;
    const y2 = text('hint-y.csv', ['1', '0.5']);
    expect(run('score', text('hint1.csv', ['0.5', '1.9072']), y2).stderr).toMatch(hint);
    expect(run('score', text('hint2.csv', ['0.5', '-3']), y2).stderr).toMatch(hint);
    // Not for NaN or an infinity, a bad target, or a target at the same position that is bad too.
    expect(run('score', text('hint3.csv', ['0.5', 'nan']), y2).stderr).not.toMatch(/--logits/);
    expect(run('score', text('hint4.csv', ['0.5', '-Infinity']), y2).stderr).not.toMatch(/--logits/);
    expect(run('score', text('hint5.csv', ['0.5', '0.5']), text('hint5-y.csv', ['1', '2'])).stderr).not.toMatch(/--logits/);
    const both = run('score', text('hint6.csv', ['0.5', '2']), text('hint6-y.csv', ['1', '2']));
    expect(both.stderr).toMatch(/hint6\.csv:2:1: probability 2 is not in/);
    expect(both.stderr).not.toMatch(/--logits/);
  });
});

describe('bce-wasm score: special spellings', () => {
  // Case-insensitively: nan, inf, +inf, -inf, infinity, +infinity, -infinity (as numpy's loadtxt).
  const spellings: [string, number][] = [
    ['nan', NaN], ['NaN', NaN], ['NAN', NaN],
    ['inf', Infinity], ['+inf', Infinity], ['-inf', -Infinity], ['Inf', Infinity], ['-INF', -Infinity],
    ['infinity', Infinity], ['+infinity', Infinity], ['-infinity', -Infinity], ['Infinity', Infinity], ['-Infinity', -Infinity], ['+INFINITY', Infinity],
  ];
  it.each(spellings.map((s, i) => [...s, i] as const))('%s is read as %s', (spelling, value, i) => {
    const pred = text(`spell${i}.csv`, ['z', '0.5', spelling]);
    const targ = text(`spell${i}-y.csv`, ['1', '0']);
    // As a probability: rejected, and the message shows the value read.
    expectError(run('score', pred, targ), 4, new RegExp(`spell${i}\\.csv:3:1: probability ${esc(String(value))} is not in \\[0, 1\\]$`, 'm'));
    // As a logit (no value is rejected): the loss is that of the value read (text output: JSON has no NaN or Infinity).
    const r = run('score', pred, targ, '--logits');
    expect(r.code, r.stderr).toBe(0);
    const sum = Number(/^sum +(\S+)$/m.exec(r.stdout)?.[1]);
    expect(sum).toBe(bce.binaryCrossEntropyWithLogits(Float32Array.of(0.5, value), Float32Array.of(1, 0), { reduction: 'sum' }));
    expect(r.stdout).toMatch(/^count +2$/m);
  });
});

describe('bce-wasm --version', () => {
  it("prints package.json's version", () => {
    const version = JSON.parse(readFileSync(pkg, 'utf8')).version;
    for (const flag of ['--version', '-V']) {
      const r = run(flag);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it('help, help score, --help and score --help print help and exit 0 (help [command] exited 2)', () => {
    for (const args of [['help'], ['help', 'score'], ['--help'], ['score', '--help']]) {
      const r = run(...args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: /);
    }
  });

  it('no command at all is a usage error: the help on stderr, exit 2 (it exited 0)', () => {
    const r = run();
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Usage: bce-wasm /);
  });
});

describe('bce-wasm score: negative zero', () => {
  // PyTorch: log(-0) = -inf, clamped to -100, so the loss of -0 against 1 is 100. The CLI reads -0 as
  // it is (the kernels handle it); a value that rounds to -0 in float32 reads as -0 too.
  it('-0 as a probability with target 1 gives a mean of 100', () => {
    const r = run('score', text('negzero.csv', ['-0', '-1e-300', '-0.0']), text('negzero-y.csv', ['1', '1', '1']), '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ mean: 100, sum: 300, count: 3 });
    const n = run('score', npy('negzero.npy', Float64Array.of(-0, -1e-300), [2]), text('negzero-y2.csv', ['1', '1']), '--json');
    expect(n.code, n.stderr).toBe(0);
    expect(JSON.parse(n.stdout)).toMatchObject({ mean: 100, sum: 200, count: 2 });
  });
});

describe('bce-wasm score: limits an outside tester found', () => {
  it('--chunk above 2^26 is a usage error (exit 2), not an allocation failure', () => {
    const pred = text('chunk-p.csv', ['0.5', '0.5']);
    const targ = text('chunk-y.csv', ['1', '1']);
    for (const c of ['1e10', '4294967296', String(2 ** 26 + 1)]) {
      expectError(run('score', pred, targ, '--chunk', c), 2, /--chunk must be an integer from 1 to 67108864/);
    }
    expect(run('score', pred, targ, '--chunk', String(2 ** 26)).code).toBe(0);
  });

  it('a .npy file under another name is named as one, not parsed as text', () => {
    const f = npy('data.npy', Float32Array.of(0.5, 0.5), [2]);
    const renamed = join(dir, 'data.bin');
    writeFileSync(renamed, readFileSync(f));
    expectError(run('score', renamed, f), 3, /data\.bin: this is a \.npy file/);
  });
});

describe('bce-wasm score: label smoothing, focal loss, masks, weighted and per-row means', () => {
  // A mask over the [N, C] data: ~70% kept, row 3 entirely left out; masked-out predictions are
  // padding (NaN, or values outside [0, 1]) that must never be checked.
  const keep = Uint8Array.from({ length: N * C }, (_, i) => (Math.floor(i / C) === 3 ? 0 : next() < 0.7 ? 1 : 0));
  const padded = (a: Float32Array, pad: number) => a.map((v, i) => (keep[i] ? v : pad));
  const masked = {
    mask: npy('mask.npy', Float32Array.from(keep), [N, C]),
    maskText: text('mask.txt', Array.from(keep, String)), // one column: for the flat [N * C] data
    zFlat: npy('z-flat.npy', padded(z, NaN), [N * C]),
    yFlat: npy('y-flat.npy', y, [N * C]),
    pPadded: npy('p-padded.npy', padded(p, 7.5), [N, C]),
  };
  const json = (...args: string[]) => {
    const r = run('score', ...args, '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout);
  };

  it('--label-smoothing: the mean of binaryCrossEntropyWithLogits with labelSmoothing', () => {
    const out = json(files.z, files.y, '--logits', '--label-smoothing', '0.1', '--chunk', '999');
    expect(out).toMatchObject({ loss: 'BCEWithLogitsLoss', labelSmoothing: 0.1, count: N * C });
    ref.expectRel(out.mean, bce.binaryCrossEntropyWithLogits(z, y, { labelSmoothing: 0.1 }), 1e-12);
    const probs = json(files.p, files.y, '--label-smoothing', '0.25');
    ref.expectRel(probs.mean, bce.binaryCrossEntropy(p, y, { labelSmoothing: 0.25 }), 1e-12);
    expect(probs.mean).not.toBe(json(files.p, files.y).mean);
  });

  it("--focal: torchvision's defaults (alpha 0.25, gamma 2), and --gamma, --alpha", () => {
    const out = json(files.z, files.y, '--logits', '--focal', '--chunk', '1001');
    expect(out).toMatchObject({ loss: 'sigmoid_focal_loss', alpha: 0.25, gamma: 2, count: N * C });
    ref.expectRel(out.mean, bce.sigmoidFocalLoss(z, y, { reduction: 'mean' }), 1e-12);
    ref.expectRel(out.sum, bce.sigmoidFocalLoss(z, y, { alpha: 0.25, gamma: 2, reduction: 'sum' }), 1e-12);
    const g = json(files.z, files.y, '--logits', '--focal', '--gamma', '0.5', '--alpha', '-1', '--label-smoothing', '0.2');
    ref.expectRel(g.mean, bce.sigmoidFocalLoss(z, y, { alpha: -1, gamma: 0.5, labelSmoothing: 0.2, reduction: 'mean' }), 1e-12);
    // gamma 0 without class weighting is the logits loss.
    const ce = json(files.z, files.y, '--logits', '--focal', '--gamma', '0', '--alpha', '-1');
    ref.expectRel(ce.mean, json(files.z, files.y, '--logits').mean, 1e-12);
  });

  it('--mask (.npy of the same shape): the mean over the kept elements; masked-out padding is not checked', () => {
    const kept = keep.reduce((a, b) => a + b, 0);
    const out = json(masked.pPadded, files.y, '--mask', masked.mask, '--chunk', '333', '--per-class');
    expect(out).toMatchObject({ loss: 'BCELoss', count: kept, mask: masked.mask });
    ref.expectRel(out.mean, bce.binaryCrossEntropy(padded(p, 7.5), y, { mask: keep }), 1e-12);
    expect(out.perClass.map((k: { count: number }) => k.count).reduce((a: number, b: number) => a + b, 0)).toBe(kept);
    // Without the mask the padding is rejected.
    expect(run('score', masked.pPadded, files.y).code).toBe(4);
  });

  it('--mask as a text column of 0/1 with flat data; NaN logits in the padding', () => {
    const out = json(masked.zFlat, masked.yFlat, '--logits', '--mask', masked.maskText, '--chunk', '500');
    ref.expectRel(out.mean, bce.binaryCrossEntropyWithLogits(padded(z, NaN), y, { mask: keep }), 1e-12);
    expect(Number.isFinite(out.mean)).toBe(true);
  });

  it('--mask errors: a value other than 0/1 (exit 4, file:line:column), another shape (exit 3)', () => {
    const lines = Array.from(keep, String);
    lines[41] = '0.5';
    expectError(run('score', masked.zFlat, masked.yFlat, '--logits', '--mask', text('mask-half.txt', lines), '--chunk', '16'), 4,
      /mask-half\.txt:42:1: mask value 0\.5 is not 0 or 1$/m);
    expectError(run('score', files.z, files.y, '--logits', '--mask', masked.maskText), 3, /shape mismatch: .*z\.npy has \(2000, 4\), .*mask\.txt has \(8000\)/);
    expectError(run('score', files.z, files.y, '--logits', '--mask', join(dir, 'no-mask.npy')), 3, /no-mask\.npy: cannot read/);
  });

  it('--reduction weightedMean with --weight: sum(w l) / sum(w) over the kept elements', () => {
    const w = [1, 2, 0.5, 4];
    const out = json(files.z, files.y, '--logits', '--reduction', 'weightedMean', '--weight', w.join(','), '--mask', masked.mask, '--chunk', '777');
    expect(out.reduction).toBe('weightedMean');
    ref.expectRel(out.weightedMean, bce.binaryCrossEntropyWithLogits(z, y, { weight: w, mask: keep, reduction: 'weightedMean' }), 1e-12);
    const wsum = Array.from(keep).reduce((s, k, i) => s + k * w[i % C], 0);
    expect(out.weightSum).toBe(wsum);
    // Equal weights (a power of 2, so w l rounds as l does): the plain mean.
    const eq = json(files.z, files.y, '--logits', '--reduction', 'weightedMean', '--weight', '2,2,2,2');
    ref.expectRel(eq.weightedMean, bce.binaryCrossEntropyWithLogits(z, y), 1e-12);
    expectError(run('score', files.z, files.y, '--logits', '--weight', '1,2,3'), 3, /--weight has 3 values, .*z\.npy has 4 columns/);
  });

  it('--reduction rowMean --out: one float32 per row, as rowMean of one call, whatever the chunking', () => {
    const want = bce.binaryCrossEntropyWithLogits(z, y, { reduction: 'rowMean', rowLength: C, mask: keep });
    for (const chunk of ['7', '1000000']) {
      const outFile = join(dir, `rows-${chunk}.npy`);
      const r = run('score', files.z, files.y, '--logits', '--mask', masked.mask, '--reduction', 'rowMean', '--out', outFile, '--chunk', chunk);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/row means of 4 written to .*rows-\d+\.npy \(2000 rows\)/);
      const bytes = readFileSync(outFile);
      const headerLength = bytes.readUInt16LE(8);
      expect(bytes.toString('latin1', 10, 10 + headerLength)).toMatch(/'descr': '<f4', 'fortran_order': False, 'shape': \(2000,\)/);
      const rows = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 10 + headerLength, bytes.byteOffset + bytes.length));
      expect(rows.length).toBe(N);
      expect(Number.isNaN(rows[3])).toBe(true); // nothing kept in row 3
      ref.expectUlps(rows, want, 1);
      // The file reads back through the CLI's own .npy reader.
      expect(run('score', outFile, npy('rows-y.npy', new Float32Array(N), [N]), '--logits').code).toBe(0);
    }
  });

  it('--reduction rowMean without --out: JSON on stdout, the string "NaN" for a row with nothing kept', () => {
    const r = run('score', files.p, files.y, '--reduction', 'rowMean', '--mask', masked.mask, '--label-smoothing', '0.1');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ loss: 'BCELoss', reduction: 'rowMean', rowLength: C, rows: N, labelSmoothing: 0.1 });
    expect(out.rowMean[3]).toBe('NaN');
    expect(new Set(out.rowMean.filter((v: unknown) => typeof v !== 'number'))).toEqual(new Set(['NaN']));
    const want = bce.binaryCrossEntropy(p, y, { reduction: 'rowMean', rowLength: C, mask: keep, labelSmoothing: 0.1 });
    ref.expectUlps(Float32Array.from(out.rowMean, (v: number | string) => Number(v)), want, 1);
  });

  it('--reduction rowMean without --out and more than 2^24 rows: a usage error naming --out (it ended in a stack trace past V8\'s longest string)', () => {
    const n = 2 ** 24 + 1;
    const xs = npy('many-x.npy', new Float32Array(n).fill(0.25), [n]);
    const ys = npy('many-y.npy', new Uint8Array(n).fill(1), [n]);
    const r = run('score', xs, ys, '--reduction', 'rowMean');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: --reduction rowMean: ${n} row means are too many to print as JSON (at most 16777216); write them to a file with --out FILE.npy\n`);
    const outFile = join(dir, 'many-out.npy');
    expect(run('score', xs, ys, '--reduction', 'rowMean', '--out', outFile, '--quiet').code).toBe(0);
    const back = readFileSync(outFile);
    const means = new Float32Array(back.buffer.slice(back.byteOffset + back.length - 4 * n));
    expect(means.length).toBe(n);
    expect(means.every((v) => v === Math.fround(Math.log(4)))).toBe(true);
    for (const f of [xs, ys, outFile]) rmSync(f);
  });

  const usage: [string, string[], RegExp][] = [
    ['--label-smoothing above 1', ['--label-smoothing', '1.5'], /--label-smoothing must be a number from 0 to 1/],
    ['--label-smoothing not a number', ['--label-smoothing', 'x'], /--label-smoothing must be a number from 0 to 1/],
    ['a negative --gamma', ['--logits', '--focal', '--gamma', '-1'], /--gamma must be a finite number >= 0/],
    ['--alpha above 1', ['--logits', '--focal', '--alpha', '2'], /--alpha must be a finite number at most 1/],
    ['--focal without --logits', ['--focal'], /--focal takes logits .*: pass --logits too/],
    ['--gamma without --focal', ['--logits', '--gamma', '1'], /--gamma is an option of --focal/],
    ['an unknown --reduction', ['--reduction', 'median'], /argument 'median' is invalid. Allowed choices are mean, weightedMean, rowMean/],
    ['--out without rowMean', ['--out', join(dir, 'x.npy')], /--out writes the row means of --reduction rowMean/],
    ['--out that is not .npy', ['--reduction', 'rowMean', '--out', join(dir, 'x.csv')], /--out must name a \.npy file/],
    ['--weight with an empty field', ['--weight', '1,,2'], /--weight must be finite numbers separated by commas/],
    ['--per-class with rowMean', ['--reduction', 'rowMean', '--per-class'], /--per-class and --reduction rowMean do not go together/],
  ];
  for (const [name, args, message] of usage) {
    it(`usage error (exit 2): ${name}`, () => {
      expectError(run('score', files.p, files.y, ...args), 2, message);
    });
  }

  it('--help lists the options', () => {
    const help = run('score', '--help').stdout;
    for (const o of ['--label-smoothing <e>', '--focal', '--gamma <g>', '--alpha <a>', '--mask <file>', '--weight <w,...>', '--reduction <r>', '--out <file.npy>']) {
      expect(help).toContain(o);
    }
  });
});

describe('bce-wasm score: numbers in options are decimal', () => {
  const pred = text('opt-p.csv', ['0.25,2', '-1,0.5']);
  const targ = text('opt-y.csv', ['1,0', '0,1']);
  const probs = text('opt-probs.csv', ['0.25,0.75', '0.5,0.125']);
  const logits = ['--logits', '--focal'];

  // [option and its value, options it needs, the part named as bad (a --weight's field; '' for an
  // empty one)]: each is a usage error naming the option and the value, where Number() would take the
  // value (hexadecimal, binary, octal, whitespace) or read it as 0 ('').
  const refused: [string, string, string[], string?][] = [
    ['--gamma', '0b11', logits],
    ['--gamma', '1_0', logits],
    ['--gamma', ' 2', logits],
    ['--alpha', '0x1', logits],
    ['--alpha', '-0x1', logits],
    ['--alpha', '0.5\n', logits],
    ['--label-smoothing', '0o1', []],
    ['--label-smoothing', '', []],
    ['--label-smoothing', '0.5 ', []],
    ['--label-smoothing', '1e', []],
    ['--label-smoothing', '0.1f', []],
    ['--threads', '0x2', []],
    ['--threads', '2.0', []],
    ['--threads', ' 2', []],
    ['--chunk', '0b1000', []],
    ['--chunk', '1e3', []],
    ['--chunk', '1_000', []],
    ['--weight', '0x1,1', [], 'value 1 \'0x1\' is not'],
    ['--weight', '1, 1', [], 'value 2 \' 1\' is not'],
    ['--weight', '1,0o1', [], 'value 2 \'0o1\' is not'],
    ['--weight', '1,', [], 'value 2 is empty'],
  ];
  it.each(refused)('%s %j: exit 2 naming the option and the value', (option, value, needs, bad) => {
    const r = run('score', option === '--weight' ? probs : pred, targ, ...needs, option, value);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`option '${esc(option)} <[^>]+>' argument '${esc(value)}' is invalid`));
    // The value as the message shows it: a control character escaped.
    const named = bad ?? `'${value.replace('\n', '\\u000a')}'`;
    expect(r.stderr).toMatch(new RegExp(`${esc(option)} must be .*${esc(named)}`));
    expect(r.stdout).toBe('');
  });

  it('inf and nan are numbers, refused by the range of an option that needs a finite value', () => {
    // 1e39 is finite as a double, not as the float32 the kernel takes.
    for (const v of ['inf', 'Infinity', 'nan', '1e39']) {
      expectError(run('score', pred, targ, ...logits, '--gamma', v), 2, new RegExp(`--gamma must be a finite number >= 0 in float32, got ${v}$`, 'm'));
    }
    // Only --gamma needs a finite float32: any finite negative --alpha means no alpha factor, as in the library.
    const r = run('score', pred, targ, ...logits, '--alpha', '-1e39');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('alpha -1e+39');
  });

  it("decimal forms Python's float() reads give the value they spell", () => {
    const json = (...args: string[]) => {
      const r = run('score', ...args, '--json');
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    const base = json(pred, targ, ...logits, '--gamma', '2', '--alpha', '0.25', '--label-smoothing', '0.5');
    for (const [g, a, e] of [['2.', '.25', '+0.5'], ['+2', '25e-2', '5E-1'], ['2.0e0', '0.250', '.5']]) {
      const o = json(pred, targ, ...logits, '--gamma', g, '--alpha', a, '--label-smoothing', e);
      expect(o).toMatchObject({ gamma: 2, alpha: 0.25, labelSmoothing: 0.5 });
      expect(o.mean).toBe(base.mean);
    }
    expect(json(pred, targ, '--logits', '--threads', '+2', '--chunk', '007').mean).toBe(json(pred, targ, '--logits').mean);
    expect(json(probs, targ, '--weight', '1.,+.5e1').weight).toEqual([1, 5]);
  });

  it('a .npy header whose shape is not in decimal digits: exit 3 (not read as Number() would)', () => {
    for (const [i, shapeText] of ['0x2,', '2.0,', '2e0,', '+2,'].entries()) {
      const f = npy(`hexshape${i}.npy`, Float32Array.of(0.5, 0.5), [2], { shapeText });
      expectError(run('score', f, text(`hexshape${i}-y.csv`, ['1', '1'])), 3, new RegExp(`hexshape${i}\\.npy: shape \\(${esc(shapeText)}\\) is not supported`));
    }
    // numpy's own forms are read: '(2,)', '(2, 1)', and Python 2's '(2L,)'.
    expect(run('score', npy('longshape.npy', Float32Array.of(0.5, 0.5), [2], { shapeText: '2L,' }), text('longshape-y.csv', ['1', '1'])).code).toBe(0);
  });
});

describe('bce-wasm score: --out never overwrites an input', () => {
  const zr = npy('out-z.npy', z.subarray(0, 40), [10, 4]);
  const yr = npy('out-y.npy', y.subarray(0, 40), [10, 4]);
  const mr = npy('out-m.npy', new Float32Array(40).fill(1), [10, 4]);
  const cases: [string, () => { out: string; victim: string }, RegExp][] = [
    ['the predictions file', () => ({ out: zr, victim: zr }), /--out .*out-z\.npy is the predictions file/],
    ['the targets file under another spelling', () => ({ out: join(dir, '.', 'x', '..', 'out-y.npy'), victim: yr }), /is the targets file/],
    ['the mask file', () => ({ out: mr, victim: mr }), /is the mask file/],
    ['a symbolic link to the predictions', () => {
      const link = join(dir, 'out-link.npy');
      symlinkSync(zr, link);
      return { out: link, victim: zr };
    }, /out-link\.npy is the predictions file \(.*out-z\.npy, the same file under another name\)/],
    ['a hard link to the targets', () => {
      const link = join(dir, 'out-hard.npy');
      linkSync(yr, link);
      return { out: link, victim: yr };
    }, /out-hard\.npy is the targets file \(.*out-y\.npy, the same file under another name\)/],
  ];
  it.each(cases)('--out naming %s: exit 2, the file untouched', (_name, make, message) => {
    const { out, victim } = make();
    const before = readFileSync(victim);
    expectError(run('score', zr, yr, '--logits', '--mask', mr, '--reduction', 'rowMean', '--out', out), 2, message);
    expect(readFileSync(victim).equals(before)).toBe(true);
  });

  it('another file is written', () => {
    const out = join(dir, 'out-rows.npy');
    expect(run('score', zr, yr, '--logits', '--mask', mr, '--reduction', 'rowMean', '--out', out).code).toBe(0);
    expect(readFileSync(out).length).toBe(128 + 10 * 4);
  });
});

describe('bce-wasm score: .npy files', () => {
  it('bytes after the data: exit 3 naming the file, the bytes expected and found', () => {
    const good = readFileSync(npy('tail-ok.npy', Float32Array.of(0.5, 0.25), [2]));
    const f = join(dir, 'tail.npy');
    writeFileSync(f, Buffer.concat([good, Buffer.from('xyz')]));
    expect(good.length).toBe(128 + 8);
    expectError(run('score', f, text('tail-y.csv', ['1', '0'])), 3,
      /tail\.npy: 3 bytes after the data: shape \(2\) of float32 needs 136 bytes \(128 of header and 8 of data\), the file has 139$/m);
  });

  // The headers np.save writes for np.bool_ and np.uint8 arrays ('|b1', '|u1'; one byte per value).
  const keep = Uint8Array.from({ length: N * C }, () => (next() < 0.6 ? 1 : 0));
  it.each(['|b1', '|u1'])('a %s mask: the same loss as a float32 mask of the same values', (descr) => {
    const json = (mask: string) => {
      const r = run('score', files.z, files.y, '--logits', '--mask', mask, '--json', '--chunk', '999');
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    const tag = descr.slice(1);
    const bytesMask = npy(`mask-${tag}.npy`, keep, [N, C], { descr });
    const out = json(bytesMask);
    expect(out).toEqual({ ...json(npy(`mask-${tag}-f4.npy`, Float32Array.from(keep), [N, C])), mask: bytesMask });
    expect(out.count).toBe(keep.reduce((a, b) => a + b, 0));
    ref.expectRel(out.mean, bce.binaryCrossEntropyWithLogits(z, y, { mask: keep }), 1e-12);
  });

  it.each(['|b1', '|u1'])('a %s mask with a value other than 0/1: exit 4 at its 1-based position', (descr) => {
    const bad = keep.slice();
    bad[4 * 17 + 2] = 2;
    const f = npy(`mask-bad-${descr.slice(1)}.npy`, bad, [N, C], { descr });
    expectError(run('score', files.z, files.y, '--logits', '--mask', f, '--chunk', '50'), 4,
      new RegExp(`mask-bad-${descr.slice(1)}\\.npy: row 18, column 3 \\(element 71\\): mask value 2 is not 0 or 1$`, 'm'));
  });

  it.each(['|b1', '|u1'])('%s targets (numpy bool or uint8 labels): the same loss as float32 targets of the same values', (descr) => {
    const tag = descr.slice(1);
    const labels = Uint8Array.from(y, (v) => (v >= 0.5 ? 1 : 0));
    const json = (t: string) => {
      const r = run('score', files.z, t, '--logits', '--json', '--chunk', '999');
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };
    const bytesTargets = npy(`targets-${tag}.npy`, labels, [N, C], { descr });
    const out = json(bytesTargets);
    expect(out).toEqual(json(npy(`targets-${tag}-f4.npy`, Float32Array.from(labels), [N, C])));
    ref.expectRel(out.mean, bce.binaryCrossEntropyWithLogits(z, labels), 1e-12);
  });

  it('uint8 targets above 1 for BCELoss: the range error at the 1-based position (exit 4)', () => {
    const t = npy('targets-u1-bad.npy', Uint8Array.of(1, 0, 7), [3], { descr: '|u1' });
    const r = run('score', text('targets-u1-bad-p.csv', ['0.5', '0.5', '0.5']), t);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/targets-u1-bad\.npy: element 3/);
  });

  it('bool and uint8 predictions are refused (exit 3): only targets and a mask may be bytes', () => {
    const u1 = npy('preds-u1.npy', Uint8Array.of(1, 0), [2]);
    expectError(run('score', u1, text('preds-u1-y.csv', ['1', '0'])), 3, /preds-u1\.npy: dtype '\|u1' is not supported .*targets and a --mask may also be bool or uint8/);
    const i1 = npy('mask-i1.npy', Uint8Array.of(1, 0), [2], { descr: '|i1' });
    expectError(run('score', text('mask-i1-p.csv', ['0.5', '0.5']), text('mask-i1-y.csv', ['1', '0']), '--mask', i1), 3,
      /mask-i1\.npy: dtype '\|i1' is not supported \(.*bool '\|b1' or uint8 '\|u1'\)/);
  });

  it('shape (N, 1) is (N): against a one-column text file or a (N,) .npy, as targets, mask or predictions, with rowMean and --weight', () => {
    const n = 50;
    const xs = z.subarray(0, n);
    const ys = y.subarray(0, n);
    const ms = Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : 1));
    const col = {
      x: npy('col-x.npy', xs, [n, 1]),
      y: npy('col-y.npy', ys, [n, 1]),
      m: npy('col-m.npy', ms, [n, 1]),
      xFlat: npy('col-x-flat.npy', xs, [n]),
      yText: text('col-y.csv', ['y', ...Array.from(ys, String)]),
      mText: text('col-m.txt', Array.from(ms, String)),
    };
    const rows = (...args: string[]) => {
      const r = run('score', ...args, '--logits', '--reduction', 'rowMean', '--weight', '2', '--json');
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ rowLength: 1, rows: n });
      return out.rowMean;
    };
    const want = rows(col.xFlat, col.yText, '--mask', col.mText);
    expect(want.filter((v: unknown) => v === 'NaN')).toHaveLength(17); // one-element rows left out
    expect(rows(col.x, col.yText, '--mask', col.mText)).toEqual(want);
    expect(rows(col.x, col.y, '--mask', col.m)).toEqual(want);
    expect(rows(col.xFlat, col.y, '--mask', col.m)).toEqual(want);
    expect(rows(col.x, col.yText, '--mask', col.m)).toEqual(want);
    const mean = (...args: string[]) => JSON.parse(run('score', ...args, '--logits', '--json').stdout).mean;
    expect(mean(col.x, col.yText)).toBe(mean(col.xFlat, col.yText));
    ref.expectRel(mean(col.x, col.yText), bce.binaryCrossEntropyWithLogits(xs, ys), 1e-12);
    // A 0-d .npy is one value: shape (1) as a text file of one line.
    const scalar = npy('col-scalar.npy', Float32Array.of(0.5), [], { shapeText: '' });
    expect(run('score', scalar, text('col-scalar-y.csv', ['1']), '--json').code).toBe(0);
    // A real difference of shape stays an error: (N/2, 2) against one column of N.
    expectError(run('score', npy('col-x2.npy', xs, [n / 2, 2]), col.yText, '--logits'), 3, /shape mismatch/);
  });
});

describe('bce-wasm score --json: NaN and infinities', () => {
  // JSON.stringify writes NaN, Infinity and -Infinity all as null; the CLI writes them as strings.
  it('a NaN or infinite loss is the string "NaN" or "Infinity", never null', () => {
    const yy = text('json-y.csv', ['1', '1']);
    const nan = run('score', text('json-nan.csv', ['0', 'nan']), yy, '--logits', '--json', '--per-class');
    expect(nan.code, nan.stderr).toBe(0);
    expect(JSON.parse(nan.stdout)).toMatchObject({ mean: 'NaN', sum: 'NaN', perClass: [{ mean: 'NaN', sum: 'NaN', count: 2 }] });
    // BCEWithLogitsLoss of +inf against 0 is +inf in PyTorch (of -inf against 1, NaN).
    const inf = run('score', text('json-inf.csv', ['0', 'inf']), text('json-inf-y.csv', ['1', '0']), '--logits', '--json', '--reduction', 'weightedMean', '--weight', '1');
    expect(inf.code, inf.stderr).toBe(0);
    expect(JSON.parse(inf.stdout)).toMatchObject({ mean: 'Infinity', sum: 'Infinity', weightedMean: 'Infinity', weightSum: 2 });
    expect(inf.stdout).not.toContain('null');
  });

  it("rowMean: a row with nothing kept is 'NaN', an infinite row 'Infinity'", () => {
    const r = run('score', text('json-rows.csv', ['0,0', 'inf,0', '5,5']), text('json-rows-y.csv', ['1,1', '0,1', '0,0']), '--logits',
      '--mask', text('json-rows-m.csv', ['1,1', '1,1', '0,0']), '--reduction', 'rowMean');
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout).rowMean;
    expect(rows).toEqual([Math.fround(Math.log(2)), 'Infinity', 'NaN']);
  });

  // What the README says of a row that keeps nothing (checked against PyTorch 2.15): its mean is NaN, as
  // torch's l[m].mean() over the empty selection, and its gradient 0, as torch's autograd of that
  // (and of torch.masked.mean, nanmean) gives; only (l * m).sum() / m.sum() would give NaN gradients.
  it("the library: a rowMean row (or a 'mean') with nothing kept has loss NaN and gradient 0, whatever its gradOutput", () => {
    const x = Float32Array.of(0.3, -1.2, 2, 0.5, 0.7, -0.1);
    const t = Float32Array.of(1, 0, 1, 0, 1, 1);
    const o = { reduction: 'rowMean', rowLength: 3, mask: [1, 1, 0, 0, 0, 0] } as const;
    const r = bce.binaryCrossEntropyWithLogitsForwardBackward(x, t, { ...o, gradOutput: [1, NaN] });
    expect(Number.isNaN((r.loss as Float32Array)[1])).toBe(true);
    expect(Array.from(r.grad.subarray(2))).toEqual([0, 0, 0, 0]);
    expect(Array.from(bce.sigmoidFocalLossBackward(x, t, o).subarray(2))).toEqual([0, 0, 0, 0]);
    // 'mean' with nothing kept: the same.
    const all = bce.binaryCrossEntropyWithLogitsForwardBackward(x, t, { reduction: 'mean', mask: [0, 0, 0, 0, 0, 0], gradOutput: NaN });
    expect(all.loss).toBeNaN();
    expect(Array.from(all.grad)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

/** Runs a bash command line; its exit code and stderr. */
function shell(command: string, timeout?: number): { code: number; stderr: string } {
  try {
    execFileSync('bash', ['-c', command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout });
    return { code: 0, stderr: '' };
  } catch (e) {
    return { code: (e as { status: number }).status, stderr: (e as { stderr: string }).stderr };
  }
}

describe('bce-wasm score: findings of an outside test of the CLI', () => {
  const pn = text('f-p.csv', ['0.9', '0.2', '0.7', '0.4']);
  const yn = text('f-y.csv', ['1', '0', '1', '0']);

  it('an argument beyond <predictions> <targets> is a usage error (exit 2), not ignored', () => {
    expectError(run('score', pn, yn, yn), 2, /too many arguments/);
    expectError(run('score', '--', pn, yn, '--json'), 2, /too many arguments/);
  });

  it("--mask '' is a file that cannot be read (exit 3), not no mask", () => {
    expectError(run('score', pn, yn, '--mask', ''), 3, /cannot read/);
  });

  it('mask values are checked as written, before any rounding to float32: 1e-50 is not 0 (exit 4 at its position)', () => {
    expectError(run('score', pn, yn, '--mask', text('f-m1.csv', ['1', '1e-50', '1', '1'])), 4, /f-m1\.csv:2:1: mask value 1e-50 is not 0 or 1$/m);
    expectError(run('score', pn, yn, '--mask', text('f-m2.csv', ['1', '1', '1.00000001', '0'])), 4, /f-m2\.csv:3:1: mask value 1\.00000001 is not 0 or 1$/m);
    const m64 = npy('f-m64.npy', Float64Array.of(1, 0, 1e-50, 1), [4]);
    expectError(run('score', pn, yn, '--mask', m64), 4, /f-m64\.npy: element 3: mask value 1e-50 is not 0 or 1$/m);
  });

  it('a --weight beyond float32 (finite as a double) is a usage error naming it (exit 2)', () => {
    expectError(run('score', pn, yn, '--weight', '1e39', '--reduction', 'weightedMean'), 2, /--weight .*value 1 '1e39' is beyond float32's range/);
  });

  it('a result that cannot be written to stdout: one line and exit 3, not a stack trace', () => {
    const r = shell(`exec "${process.execPath}" "${BIN}" score "${pn}" "${yn}" > /dev/full`);
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe('bce-wasm: cannot write the result to stdout: ENOSPC');
  });

  it('--out that cannot be written whole leaves an existing file as it was and no partial file (a file size limit)', () => {
    const n = 4096;
    const rows = text('f-rows-p.csv', Array.from({ length: n }, (_, i) => `${(i % 9) / 10 + 0.05},0.5`));
    const rowsY = text('f-rows-y.csv', Array.from({ length: n }, () => '1,0'));
    const out = join(dir, 'f-old.npy');
    writeFileSync(out, 'previous');
    // A 1-block (512-byte) file size limit with SIGXFSZ ignored: the write fails with EFBIG.
    const { code, stderr } = shell(`trap '' XFSZ; ulimit -f 1; exec "${process.execPath}" "${BIN}" score "${rows}" "${rowsY}" --reduction rowMean --out "${out}"`);
    expect(code, stderr).toBe(3);
    expect(stderr).toMatch(/f-old\.npy: cannot write/);
    expect(readFileSync(out, 'utf8')).toBe('previous');
    expect(readdirSync(dir).filter((f) => f.includes('f-old.npy.') && f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('bce-wasm score: findings of a second outside test of the CLI', () => {
  // 6 x 3 probabilities in C order, and the same in Fortran order (column after column).
  const p6 = p.subarray(0, 18);
  const pF = Float32Array.from({ length: 18 }, (_, k) => p6[(k % 6) * 3 + Math.floor(k / 6)]);
  const y6 = npy('g-y.npy', y.subarray(0, 18), [6, 3]);
  const mean = (predictions: string) => {
    const r = run('score', predictions, y6, '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout).mean as number;
  };
  const want = mean(npy('g-p.npy', p6, [6, 3]));

  it("a .npy header's key given twice has its last value, as numpy reads the header (a Python dict)", () => {
    const fortranLast = npy('g-dup-f.npy', pF, [6, 3], { header: "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 3), 'fortran_order': True, }" });
    expectError(run('score', fortranLast, y6), 3, /g-dup-f\.npy: Fortran-order arrays are not supported/);
    const cLast = [
      "{'descr': '<f4', 'fortran_order': True, 'shape': (6, 3), 'fortran_order': False, }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (18,), 'shape': (6, 3), }",
      "{'descr': '<f8', 'fortran_order': False, 'shape': (6, 3), 'descr': '<f4', }",
    ];
    for (const [i, header] of cLast.entries()) expect(mean(npy(`g-dup${i}.npy`, p6, [6, 3], { header })), header).toBe(want);
    // numpy also wants exactly these three keys.
    expectError(run('score', npy('g-extra.npy', p6, [6, 3], { header: "{'descr': '<f4', 'fortran_order': False, 'shape': (6, 3), 'x': 1}" }), y6), 3,
      /g-extra\.npy: unreadable \.npy header \(a key 'x' besides 'descr', 'fortran_order' and 'shape'\)/);
    expectError(run('score', npy('g-nokey.npy', p6, [6, 3], { header: "{'descr': '<f4', 'shape': (6, 3)}" }), y6), 3,
      /g-nokey\.npy: unreadable \.npy header \(no 'fortran_order' key\)/);
  });

  it("a .npy header in double quotes is read, as numpy's reader (ast.literal_eval) reads it; JSON's false is not Python's False", () => {
    expect(mean(npy('g-dq.npy', p6, [6, 3], { header: '{"descr": "<f4", "fortran_order": False, "shape": (6, 3), }' }))).toBe(want);
    expect(mean(npy('g-dq2.npy', p6, [6, 3], { header: `{"descr": '<f4', 'fortran_order': False,\n "shape": (6, 3)}` }))).toBe(want);
    expectError(run('score', npy('g-json.npy', p6, [6, 3], { header: '{"descr": "<f4", "fortran_order": false, "shape": (6, 3)}' }), y6), 3,
      /g-json\.npy: unreadable \.npy header \(fortran_order must be True or False\)/);
  });

  it('a .npy file that ends within or after the magic is truncated, not a file without the magic', () => {
    const file = (name: string, bytes: string) => {
      const f = join(dir, name);
      writeFileSync(f, Buffer.from(bytes, 'latin1'));
      return f;
    };
    expectError(run('score', file('g-magic.npy', '\x93NUMPY'), y6), 3, /g-magic\.npy: truncated: the file ends at byte 6, after the \.npy magic/);
    expectError(run('score', file('g-magic4.npy', '\x93NUM'), y6), 3, /g-magic4\.npy: truncated: the file ends at byte 4, within the \.npy magic/);
    expectError(run('score', file('g-magic9.npy', '\x93NUMPY\x01\x00\x76'), y6), 3, /g-magic9\.npy: truncated: the file ends at byte 9, within the header's length/);
    expectError(run('score', file('g-magic10.npy', '\x93NUMPY\x01\x00\x76\x00'), y6), 3, /g-magic10\.npy: truncated: the \.npy header takes bytes 11 to 128, the file ends at byte 10/);
    expectError(run('score', file('g-nomagic.npy', '\x93NUMPZ\x01\x00\x76\x00'), y6), 3, /g-nomagic\.npy: not a \.npy file/);
    expectError(run('score', file('g-version.npy', '\x93NUMPY\x04\x00\x76\x00'), y6), 3, /g-version\.npy: \.npy format version 4\.0 is not supported/);
  });

  it("a text line longer than 64 MiB is a file error at its line (exit 3), not a crash at V8's longest string", () => {
    // /dev/zero is one endless line of NUL bytes (it was 'RangeError: Invalid string length', exit 1).
    expectError(runWith({ timeout: 30_000 }, 'score', '/dev/zero', y6), 3, /^bce-wasm: \/dev\/zero:1: a line longer than 67108864 bytes \(64 MiB\)/);
    // From a pipe, nothing on disk: two lines (one ending in \r\n), then a line one byte too long (line 3),
    // or exactly 2^26 bytes long, which is read (its 67,108,864 digits are a number, Infinity).
    const targets = text('g-long-y.csv', ['1', '1', '1']);
    const lines = (n: number) => `exec "${process.execPath}" "${BIN}" score <(printf '0.5\\r\\n0.5\\n'; head -c ${n} /dev/zero | tr '\\0' 5; echo) "${targets}"`;
    const long = shell(lines(2 ** 26 + 1), 30_000);
    expect(long.code, long.stderr).toBe(3);
    expect(long.stderr).toMatch(/^bce-wasm: \/dev\/fd\/\d+:3: a line longer than 67108864 bytes \(64 MiB\), the longest a text line may be\n$/);
    const longest = shell(lines(2 ** 26), 30_000);
    expect(longest.code, longest.stderr).toBe(4);
    expect(longest.stderr).toMatch(/^bce-wasm: \/dev\/fd\/\d+:3:1: probability Infinity is not in \[0, 1\]\n$/);
  });

  it('probabilities and targets are range-checked as the float32 they round to (text and float64 .npy), masks as written', () => {
    // 1.00000001 rounds to 1 and -1e-50 to -0: accepted, as PyTorch's BCELoss accepts them in a float32 tensor.
    const targets = text('g-r-y.csv', ['1', '0', '-1e-50']);
    const expected = JSON.parse(run('score', text('g-r-p0.csv', ['1', '0', '0.5']), text('g-r-y0.csv', ['1', '0', '0']), '--json').stdout);
    for (const predictions of [text('g-r-p.csv', ['1.00000001', '-1e-50', '0.5']), npy('g-r-p64.npy', Float64Array.of(1.00000001, -1e-50, 0.5), [3])]) {
      const r = run('score', predictions, targets, '--json');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).mean).toBe(expected.mean);
    }
    // 1.0000001 is a float32 above 1: refused, as the value it is.
    expectError(run('score', text('g-r-p2.csv', ['1.0000001', '0', '0.5']), targets), 4, /g-r-p2\.csv:1:1: probability 1\.0000001 is not in \[0, 1\]/);
    expectError(run('score', npy('g-r-p3.npy', Float64Array.of(0.5, 0, 0.5), [3]), text('g-r-y2.csv', ['1', '0', '1.0000001'])), 4,
      /g-r-y2\.csv:3:1: target 1\.0000001 is not in \[0, 1\]/);
    // A mask is checked before rounding: 1.00000001 is not 1.
    expectError(run('score', text('g-r-p4.csv', ['0.5', '0', '0.5']), targets, '--mask', text('g-r-m.csv', ['1', '1.00000001', '1'])), 4,
      /g-r-m\.csv:2:1: mask value 1\.00000001 is not 0 or 1/);
  });
});

