// Scoring files with bounded memory: readers for .npy (float32/float64, C order) and CSV / plain text
// columns that fill reusable chunks, and the loop that feeds them to a pool in lockstep.

import type { Stats } from 'node:fs';
import { open, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline, Transform } from 'node:stream';
import { OutOfRangeError } from '../pass.js';
import type { Pool } from './pool.js';

/** A file that cannot be scored as it is: unreadable, bad format or dtype, truncated, shapes that differ. */
export class FileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FileError';
  }
}

/** A value the loss rejects: a probability or target outside [0, 1], or NaN where one is expected. */
export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueError';
  }
}

/** A stream of float32 values from one file. */
export interface Source {
  readonly file: string;
  /** `[N]` or `[N, C]`; for text files known once the file has been read (until then `[-1, C]`). */
  readonly shape: number[];
  readonly dtype: 'float32' | 'float64' | 'bool' | 'uint8' | 'text';
  /** Bytes of the file consumed so far, and its size (for progress). */
  readonly bytesRead: number;
  readonly bytes: number;
  /** Fills `into` from the start with the next values; returns how many (0 at the end). */
  read(into: Float32Array): Promise<number>;
  /**
   * Where the value at `index` (counted from 0 over the whole file, within the chunk last read) is,
   * for messages, 1-based: `file:line:column` in a text file (the column is the field),
   * `file: row R, column C (element E)` in a .npy file of shape [N, C], `file: element E` of shape [N].
   */
  where(index: number): string;
  close(): Promise<void>;
}

const NPY_MAGIC = '\x93NUMPY';

/**
 * A file-system error (one with an errno code) as a one-line FileError naming the file: Node's
 * description without its code, system call and path ("ENOENT: no such file or directory, open '/x'"
 * becomes "no such file or directory"). Anything else is returned as it is.
 */
function cannotRead(file: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (e instanceof FileError || !(e instanceof Error) || typeof code !== 'string') return e;
  const reason = /^[A-Z0-9_]+: (.*?)(?:, [a-z_]+(?: '.*')?)?$/s.exec(e.message)?.[1] ?? e.message;
  return new FileError(`${file}: cannot read: ${reason.replace(/\s+/g, ' ')}`);
}

/**
 * Opens `file`: `.npy` by its header, anything else as comma/whitespace separated text columns.
 * Throws {@link FileError} for a file that cannot be read: missing, a directory, no permission; a
 * `.npy` file must be a regular file (it is read by position), text may come from a FIFO. With
 * `bytes` (targets, a mask), a `.npy` file may also hold bool (`|b1`) or uint8 (`|u1`) values. With
 * `mask`, a value that is not exactly 0 or 1 as read (before any rounding to float32: `1e-50` would
 * round to 0) is a {@link ValueError} at its position.
 */
export async function openSource(file: string, { bytes = false, mask = false }: { bytes?: boolean; mask?: boolean } = {}): Promise<Source> {
  let info: Stats;
  try {
    info = await stat(file);
  } catch (e) {
    throw cannotRead(file, e);
  }
  if (info.isDirectory()) throw new FileError(`${file}: is a directory`);
  const npy = file.toLowerCase().endsWith('.npy');
  if (npy && !info.isFile()) throw new FileError(`${file}: not a regular file (a .npy file is read by position)`);
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw cannotRead(file, e);
  }
  return npy ? openNpy(file, fh, info.size, bytes, mask) : openText(file, fh, info.isFile() ? info.size : 0, mask);
}

/** The dtypes a .npy file may hold: numpy's descr, its size and the Source's name for it. */
const NPY_DTYPES: Record<string, { itemSize: number; dtype: 'float32' | 'float64' | 'bool' | 'uint8' }> = {
  '<f4': { itemSize: 4, dtype: 'float32' },
  '=f4': { itemSize: 4, dtype: 'float32' },
  '<f8': { itemSize: 8, dtype: 'float64' },
  '=f8': { itemSize: 8, dtype: 'float64' },
  '|b1': { itemSize: 1, dtype: 'bool' },
  '|u1': { itemSize: 1, dtype: 'uint8' },
};

/** A value in a .npy header: a string, or the text of a name (True), a number or a bracketed group. */
type HeaderValue = { kind: 'string'; value: string } | { kind: 'name' | 'number' | 'group'; text: string };

/** Python's whitespace between tokens. */
const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f';
const CLOSING: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/**
 * A .npy header as numpy reads it (`ast.literal_eval` of a Python dict literal, then exactly the keys
 * descr, fortran_order and shape): `descr`, whether the data is in Fortran order, and the text inside
 * the shape's parentheses (its dimensions are checked by the caller); or why it cannot be read.
 * Strings are in single or double quotes (`\\`, `\'` and `\"` are the escapes read; numpy writes
 * none), `fortran_order` is `True` or `False` (not JSON's `true`/`false`, which numpy refuses), a
 * trailing comma is allowed, and a key given twice has its last value, as in a Python dict.
 */
function parseNpyHeader(text: string): { descr: string; fortran: boolean; shapeText: string } | string {
  let i = 0;
  const skipSpace = () => {
    while (isSpace(text[i])) i++;
  };
  const string = (): string | undefined => {
    const quote = text[i];
    if (quote !== "'" && quote !== '"') return undefined;
    let out = '';
    for (i++; i < text.length; i++) {
      const c = text[i];
      if (c === quote) {
        i++;
        return out;
      }
      if (c === '\n') return undefined; // a quoted string ends on its line
      if (c === '\\' && i + 1 < text.length) {
        const d = text[++i];
        out += d === '\\' || d === "'" || d === '"' ? d : `\\${d}`;
      } else {
        out += c;
      }
    }
    return undefined;
  };
  const value = (): HeaderValue | undefined => {
    const c = text[i];
    if (c === "'" || c === '"') {
      const s = string();
      return s === undefined ? undefined : { kind: 'string', value: s };
    }
    if (Object.hasOwn(CLOSING, c)) {
      // A tuple, list or dict: its text, brackets balanced (and skipped inside strings).
      const start = i++;
      const open = [CLOSING[c]];
      while (open.length > 0) {
        const d = text[i];
        if (d === undefined) return undefined;
        if (d === "'" || d === '"') {
          if (string() === undefined) return undefined;
          continue;
        }
        if (Object.hasOwn(CLOSING, d)) open.push(CLOSING[d]);
        else if (d === open[open.length - 1]) open.pop();
        else if (d === ')' || d === ']' || d === '}') return undefined;
        i++;
      }
      return { kind: 'group', text: text.slice(start, i) };
    }
    const token = /[+-]?[0-9A-Za-z_.]+/y;
    token.lastIndex = i;
    const m = token.exec(text);
    if (m === null) return undefined;
    i += m[0].length;
    return { kind: /^[A-Za-z_]/.test(m[0]) ? 'name' : 'number', text: m[0] };
  };
  const entries = new Map<string, HeaderValue>();
  const notADict = 'not a Python dict literal';
  skipSpace();
  if (text[i++] !== '{') return notADict;
  for (;;) {
    skipSpace();
    if (text[i] === '}') break;
    const key = string();
    if (key === undefined) return notADict;
    skipSpace();
    if (text[i++] !== ':') return notADict;
    skipSpace();
    const v = value();
    if (v === undefined) return notADict;
    entries.set(key, v); // a key given again replaces its value, as in Python
    skipSpace();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') return notADict;
  }
  i++;
  skipSpace();
  if (i < text.length) return notADict;
  const expected = ['descr', 'fortran_order', 'shape'];
  const missing = expected.find((k) => !entries.has(k));
  if (missing !== undefined) return `no '${missing}' key`;
  const extra = [...entries.keys()].find((k) => !expected.includes(k));
  if (extra !== undefined) return `a key '${shown(extra)}' besides 'descr', 'fortran_order' and 'shape'`;
  const descr = entries.get('descr')!;
  const fortran = entries.get('fortran_order')!;
  const shape = entries.get('shape')!;
  if (fortran.kind !== 'name' || (fortran.text !== 'True' && fortran.text !== 'False')) return 'fortran_order must be True or False';
  if (shape.kind !== 'group' || !shape.text.startsWith('(')) return 'shape must be a tuple';
  // A descr that is not a string (a structured dtype's list) is shown as its text, and not supported.
  return { descr: descr.kind === 'string' ? descr.value : descr.text, fortran: fortran.text === 'True', shapeText: shape.text.slice(1, -1) };
}

async function openNpy(file: string, fh: FileHandle, size: number, bytes: boolean, mask: boolean): Promise<Source> {
  try {
    const head = Buffer.alloc(12);
    const { bytesRead } = await fh.read(head, 0, 12, 0);
    if (bytesRead === 0 || !NPY_MAGIC.startsWith(head.toString('latin1', 0, Math.min(bytesRead, 6)))) {
      throw new FileError(`${file}: not a .npy file (no \\x93NUMPY magic at byte 0)`);
    }
    // The magic (or its start) is there: a file that ends before the header is a truncated .npy file.
    if (bytesRead < 8) {
      const where = bytesRead < 6 ? 'within the .npy magic' : 'after the .npy magic, before the end of its format version (bytes 7 and 8)';
      throw new FileError(`${file}: truncated: the file ends at byte ${bytesRead}, ${where}`);
    }
    const major = head[6];
    if (major < 1 || major > 3) throw new FileError(`${file}: .npy format version ${major}.${head[7]} is not supported (versions 1, 2 and 3 are)`);
    const prefix = major === 1 ? 10 : 12;
    if (bytesRead < prefix) throw new FileError(`${file}: truncated: the file ends at byte ${bytesRead}, within the header's length (bytes 9 to ${prefix})`);
    const headerLength = major === 1 ? head.readUInt16LE(8) : head.readUInt32LE(8);
    if (size < prefix + headerLength) {
      throw new FileError(`${file}: truncated: the .npy header takes bytes ${prefix + 1} to ${prefix + headerLength}, the file ends at byte ${size}`);
    }
    const header = Buffer.alloc(headerLength);
    await readFully(fh, header, prefix, file);
    const text = header.toString(major === 3 ? 'utf8' : 'latin1');
    const fields = parseNpyHeader(text);
    if (typeof fields === 'string') throw new FileError(`${file}: unreadable .npy header (${fields}): ${shown(text.trim(), 200)}`);
    const { descr, fortran, shapeText } = fields;
    const type = Object.hasOwn(NPY_DTYPES, descr) ? NPY_DTYPES[descr] : undefined;
    if (type === undefined || (type.itemSize === 1 && !bytes)) {
      const also = bytes ? ", bool '|b1' or uint8 '|u1'" : '; targets and a --mask may also be bool or uint8';
      throw new FileError(`${file}: dtype '${descr}' is not supported (little-endian float32 '<f4' or float64 '<f8'${also})`);
    }
    const { itemSize, dtype } = type;
    if (fortran) throw new FileError(`${file}: Fortran-order arrays are not supported (C order only)`);
    // Dimensions in decimal digits, as numpy writes them (an 'L' after them from Python 2's longs).
    // A Python tuple of ints as numpy's reader takes it: `()`, `(3,)`, `(3, 2)`, `(3, 2,)`; not `(3)`
    // (an int), `(3,,)` or `(,)` (syntax errors), nor a decimal with a leading zero (`0003`).
    const inner = shapeText.trim();
    const parts = inner === '' ? [] : inner.split(',').map((d) => d.trim());
    if (inner.endsWith(',')) parts.pop();
    if ((parts.length > 0 && !inner.includes(',')) || parts.includes('')) {
      throw new FileError(`${file}: unreadable .npy header: shape (${shapeText}) is not a Python tuple (one dimension is written (N,))`);
    }
    const shape = parts.map((d) => (/^(0|[1-9][0-9]*)L?$/.test(d) ? Number.parseInt(d, 10) : NaN));
    if (shape.length > 2 || shape.some((d) => !Number.isSafeInteger(d))) {
      throw new FileError(`${file}: shape (${shapeText}) is not supported ([N] or [N, C])`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (count === 0) throw new FileError(`${file}: no values (shape (${shape.join(', ')}))`);
    const start = prefix + headerLength;
    const expected = start + count * itemSize;
    if (size !== expected) {
      const have = Math.floor((size - start) / itemSize);
      throw new FileError(
        size < expected
          ? `${file}: truncated: shape (${shape.join(', ')}) needs ${count} values (${count * itemSize} bytes of data), ` +
              `the file holds ${size - start} bytes (${have} values); it ends at value ${have}`
          : `${file}: ${size - expected} bytes after the data: shape (${shape.join(', ')}) of ${dtype} needs ${expected} bytes ` +
              `(${start} of header and ${count * itemSize} of data), the file has ${size}`,
      );
    }
    let position = start;
    let scratch = Buffer.alloc(0);
    const where = (index: number): string => {
      if (shape.length < 2) return `${file}: element ${index + 1}`;
      const c = shape[1];
      return `${file}: row ${Math.floor(index / c) + 1}, column ${(index % c) + 1} (element ${index + 1})`;
    };
    return {
      file,
      shape,
      dtype,
      get bytesRead() {
        return position;
      },
      bytes: size,
      where,
      async read(into: Float32Array): Promise<number> {
        const want = Math.min(into.length, (size - position) / itemSize);
        if (want <= 0) return 0;
        if (itemSize === 4) {
          // Straight into the (shared) chunk's memory.
          await readFully(fh, Buffer.from(into.buffer, into.byteOffset, want * 4), position, file);
        } else {
          if (scratch.length < want * itemSize) scratch = Buffer.alloc(want * itemSize);
          await readFully(fh, scratch.subarray(0, want * itemSize), position, file);
          if (itemSize === 8) {
            const f64 = new Float64Array(scratch.buffer, scratch.byteOffset, want);
            for (let i = 0; i < want; i++) into[i] = f64[i];
            if (mask) {
              const i = f64.findIndex((v) => v !== 0 && v !== 1);
              if (i >= 0) throw new ValueError(`${where((position - start) / itemSize + i)}: mask value ${f64[i]} is not 0 or 1`);
            }
          } else {
            // bool or uint8: each byte as it is (a mask's check then refuses anything but 0 and 1, BCELoss's
            // range check a target above 1).
            for (let i = 0; i < want; i++) into[i] = scratch[i];
          }
        }
        position += want * itemSize;
        return want;
      },
      close: () => fh.close(),
    };
  } catch (e) {
    await fh.close();
    throw cannotRead(file, e);
  }
}

async function readFully(fh: FileHandle, into: Buffer, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < into.length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(into, done, into.length - done, position + done));
    } catch (e) {
      throw cannotRead(file, e);
    }
    if (bytesRead === 0) throw new FileError(`${file}: truncated: the file ended at byte ${position + done}`);
    done += bytesRead;
  }
}

/**
 * Between two fields of a text line: a comma or semicolon with any whitespace around it, or a run of
 * whitespace. Two commas in a row, or one at either end of a line, leave an empty field (an error).
 */
const SEPARATOR = /\s*[,;]\s*|\s+/;
/** A decimal number: optional sign, digits with an optional point (or a point and digits), optional exponent. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/**
 * The special values a text field may spell, in any case (as numpy's text loader reads them): nan,
 * inf, +inf, -inf, infinity, +infinity, -infinity.
 */
const SPECIAL = new Map<string, number>([
  ['nan', NaN],
  ['inf', Infinity],
  ['+inf', Infinity],
  ['-inf', -Infinity],
  ['infinity', Infinity],
  ['+infinity', Infinity],
  ['-infinity', -Infinity],
]);

/**
 * The number a text field spells, or undefined: decimal numbers and the spellings of {@link SPECIAL},
 * nothing else (no empty field, hexadecimal, digit separators or trailing text, which `Number()` would
 * take or read as 0).
 */
export function parseField(field: string): number | undefined {
  if (DECIMAL.test(field)) return Number(field);
  return SPECIAL.get(field.toLowerCase());
}

/** A header field: not a number, not empty, and not starting like one (a digit, a sign or a point). */
function isName(field: string): boolean {
  return parseField(field) === undefined && /^[^\d+\-.]/.test(field);
}

/** A field as a message shows it: at most `max` characters, control characters escaped (a binary file read as text). */
export function shown(field: string, max = 40): string {
  const s = field.length > max ? `${field.slice(0, max)}...` : field;
  return s.replace(/[\p{Cc}\p{Cf}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The longest line a text file may have: 64 MiB (67,108,864 bytes, not counting the line break). A
 * line is held whole while it is split into fields (a JavaScript string can hold at most 2^29 - 24
 * characters, and splitting takes several times the line's size); a longer line is a FileError at
 * its line, not a crash.
 */
export const MAX_LINE_BYTES = 1 << 26;
/** The size of the pieces a text file is read in (at most MAX_LINE_BYTES, see {@link lineLimit}). */
const TEXT_READ_BYTES = 1 << 16;

/** Thrown by {@link lineLimit}'s stream: the line being read is longer than {@link MAX_LINE_BYTES}. */
class LineTooLong extends Error {}

/**
 * A pass-through stream that fails with {@link LineTooLong} once a line (between line breaks: `\n`,
 * `\r` or both, as readline splits them) grows beyond {@link MAX_LINE_BYTES}, before readline gathers
 * more of it into one string. Pieces are at most MAX_LINE_BYTES long, so only the bytes before a
 * piece's first line break and after its last one can belong to a line that long.
 */
function lineLimit(): Transform {
  let run = 0; // bytes since the last line break
  return new Transform({
    transform(piece: Buffer, _encoding, done) {
      const last = Math.max(piece.lastIndexOf(10), piece.lastIndexOf(13));
      if (last < 0) {
        run += piece.length;
      } else {
        const lf = piece.indexOf(10);
        const cr = piece.indexOf(13);
        const first = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
        if (run + first > MAX_LINE_BYTES) {
          done(new LineTooLong());
          return;
        }
        run = piece.length - 1 - last;
      }
      if (run > MAX_LINE_BYTES) done(new LineTooLong());
      else done(null, piece);
    },
  });
}

async function openText(file: string, fh: FileHandle, size: number, mask: boolean): Promise<Source> {
  const stream = fh.createReadStream({ highWaterMark: TEXT_READ_BYTES });
  const limited = lineLimit();
  // A read error of the file reaches readline through the limit's stream (pipeline passes it on).
  pipeline(stream, limited, () => undefined);
  const lines = createInterface({ input: limited, crlfDelay: Infinity })[Symbol.asyncIterator]();
  let line = 0;
  let columns = -1;
  let rows = 0;
  // The row being delivered, its line, and how many of its values are delivered.
  let row: number[] = [];
  let rowLine = 0;
  let taken = 0;
  // Values delivered before the last read, and for each piece of a row in its chunk: where the piece
  // starts in the chunk, its line and the column of its first value (0-based), for where().
  let base = 0;
  let delivered = 0;
  const pieceStart: number[] = [];
  const pieceLine: number[] = [];
  const pieceColumn: number[] = [];
  let ended = false;
  let started = false; // past the first line that is not blank or a comment
  const source = {
    file,
    shape: [-1, -1],
    dtype: 'text' as const,
    get bytesRead() {
      return stream.bytesRead;
    },
    bytes: size,
    where(index: number): string {
      const local = index - base;
      let lo = 0;
      let hi = pieceStart.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (pieceStart[mid] <= local) lo = mid;
        else hi = mid - 1;
      }
      return `${file}:${pieceLine[lo]}:${pieceColumn[lo] + local - pieceStart[lo] + 1}`;
    },
    async read(into: Float32Array): Promise<number> {
      base = delivered;
      pieceStart.length = pieceLine.length = pieceColumn.length = 0;
      let filled = 0;
      while (filled < into.length) {
        if (taken < row.length) {
          const k = Math.min(row.length - taken, into.length - filled);
          pieceStart.push(filled);
          pieceLine.push(rowLine);
          pieceColumn.push(taken);
          for (let i = 0; i < k; i++) into[filled + i] = row[taken + i];
          taken += k;
          filled += k;
          continue;
        }
        if (ended) break;
        let next: IteratorResult<string>;
        try {
          next = await lines.next();
        } catch (e) {
          // readline has given every line before the long one: it is the next.
          if (e instanceof LineTooLong) {
            throw new FileError(`${file}:${line + 1}: a line longer than ${MAX_LINE_BYTES} bytes (64 MiB), the longest a text line may be`);
          }
          throw cannotRead(file, e);
        }
        if (next.done) {
          ended = true;
          if (rows === 0) throw new FileError(`${file}: no values (empty, or only a header, comments and blank lines)`);
          source.shape = columns <= 1 ? [rows] : [rows, columns];
          break;
        }
        line++;
        const text = next.value.trim();
        if (line === 1 && text.startsWith('\uFFFDNUMPY')) {
          throw new FileError(`${file}: this is a .npy file (it starts with the .npy magic); give it a .npy name to read it as one`);
        }
        if (text === '' || text.startsWith('#')) continue;
        if (text.includes(';') && /\d,\d/.test(text)) {
          // `0,5;0,7` is two numbers with decimal commas, which would read as four: refuse it.
          throw new FileError(`${file}:${line}: both ',' and ';' on one line (decimal commas are not supported; use '.' for decimals)`);
        }
        const fields = text.split(SEPARATOR);
        const values = fields.map(parseField);
        const bad = values.indexOf(undefined);
        const first = !started;
        started = true;
        if (bad >= 0) {
          // A first line of names is a header; anything else is an error at that line and column.
          if (first && fields.every(isName)) continue;
          const what = fields[bad] === '' ? 'empty field (a leading, trailing or doubled separator)' : `'${shown(fields[bad])}' is not a number`;
          throw new FileError(`${file}:${line}:${bad + 1}: ${what}`);
        }
        if (columns < 0) {
          columns = fields.length;
          source.shape = [-1, columns];
        } else if (fields.length !== columns) {
          // At the first field too many, or the first one missing.
          const at = Math.min(fields.length, columns) + 1;
          const count = (k: number) => `${k} column${k === 1 ? '' : 's'}`;
          throw new FileError(`${file}:${line}:${at}: ${count(fields.length)}, but the first data line has ${columns}`);
        }
        if (mask) {
          const i = (values as number[]).findIndex((v) => v !== 0 && v !== 1);
          if (i >= 0) throw new ValueError(`${file}:${line}:${i + 1}: mask value ${shown(fields[i])} is not 0 or 1`);
        }
        rows++;
        row = values as number[];
        rowLine = line;
        taken = 0;
      }
      delivered += filled;
      return filled;
    },
    close: async () => {
      stream.destroy();
      limited.destroy();
    },
  };
  return source;
}

/**
 * A float32 value as the shortest decimal that reads back as the same float32 (1.9072, not
 * 1.9071999788284302 as a float64 would print); NaN, Infinity, -Infinity and -0 as such.
 */
export function formatFloat32(v: number): string {
  const f = Math.fround(v);
  if (!Number.isFinite(f)) return String(f);
  if (Object.is(f, -0)) return '-0';
  for (let digits = 1; digits <= 9; digits++) {
    // The nearest decimal of this many digits, or next to it: below a power of 2 the float32s are
    // twice as dense, so the nearest may miss where its neighbour on the other side reads back.
    const [mantissa, exponent] = f.toExponential(digits - 1).split('e');
    const m = Number(mantissa.replace('.', ''));
    const e = Number(exponent) - (digits - 1);
    let best: number | undefined;
    for (const k of [m, m - 1, m + 1]) {
      const d = Number(`${k}e${e}`);
      if (Math.fround(d) === f && (best === undefined || Math.abs(d - f) < Math.abs(best - f))) best = d;
    }
    if (best !== undefined) return String(best);
  }
  return String(f); // not reached: 9 significant digits always read back
}

/** What {@link score} reports. */
export interface Score {
  /** The mean over the kept elements (all of them without a mask): `sum / count`. */
  mean: number;
  sum: number;
  /** Elements counted: all of them, or with a mask the kept ones. */
  count: number;
  shape: number[];
  /** For `[N, C]` data with `perClass`: the loss of each column. */
  perClass?: { mean: number; sum: number; count: number }[];
  /** With reduction `'weightedMean'`: `sum / weightSum` over the kept elements, and that weight sum. */
  weightedMean?: number;
  weightSum?: number;
  /** With reduction `'rowMean'`: the mean over each row's kept elements (NaN where none is kept), and the row length. */
  rowMean?: Float32Array;
  rowLength?: number;
}

/** Options of {@link score}. */
export interface ScoreOptions {
  /** Predictions are logits (BCEWithLogitsLoss) rather than probabilities (BCELoss). */
  logits?: boolean;
  /** torchvision's sigmoid focal loss of logits instead (needs `logits`). */
  focal?: { alpha: number; gamma: number };
  /** Label smoothing e in [0, 1]: targets y * (1 - e) + e / 2. */
  labelSmoothing?: number;
  /** A file of 0/1 of the predictions' shape: elements with 0 are left out (not counted, not checked). */
  mask?: string;
  /** One weight per column of `[N, C]` data (one value for `[N]` data). */
  weight?: number[];
  /** `'mean'` (default; also reports the sum), `'weightedMean'` or `'rowMean'`. */
  reduction?: 'mean' | 'weightedMean' | 'rowMean';
  /** Elements per chunk read from each file (memory is about 12 bytes per element of chunk). */
  chunk?: number;
  /** Also report each column's loss for `[N, C]` data. */
  perClass?: boolean;
  /** Called after each chunk with the fraction of bytes read. */
  progress?: (fraction: number) => void;
}

function describe(s: Source): string {
  return `(${s.shape.join(', ')})`;
}

/**
 * A shape as it is compared: one column, `[N, 1]` (a .npy file of shape (N, 1)), is `[N]` (a text
 * file of one column, as numpy's loadtxt reads it), and `[]` (a 0-d .npy file) is `[1]`: the same values
 * in the same order, with the same rows for 'rowMean' (of one element each) and the same --weight.
 */
function canonical(shape: number[]): string {
  const s = shape.length === 0 ? [1] : shape.length === 2 && shape[1] === 1 ? [shape[0]] : shape;
  return s.join(',');
}

/** Throws unless the two sources have the same shape (a text file's is known once it is read). */
function checkShapes(pred: Source, other: Source): void {
  if (canonical(pred.shape) !== canonical(other.shape)) {
    throw new FileError(`shape mismatch: ${pred.file} has ${describe(pred)}, ${other.file} has ${describe(other)}`);
  }
}

/** A Float32Array of `n` elements over shared memory (the pool's workers read it without a copy). */
const shared = (n: number): Float32Array => new Float32Array(new SharedArrayBuffer(n * 4));

/**
 * Streams two files of predictions and targets (and a mask) through `pool` in chunks and returns the
 * loss: the mean, sum and count, optionally per column, a weighted mean or one mean per row. Memory
 * stays bounded by the chunk size whatever the file size (plus 4 bytes per row for `'rowMean'`).
 * Throws {@link FileError} or {@link ValueError} naming the file and the position.
 */
export async function score(predictions: string, targets: string, pool: Pool, options: ScoreOptions = {}): Promise<Score> {
  const chunk = options.chunk ?? 1 << 20;
  const reduction = options.reduction ?? 'mean';
  const sources: Source[] = [];
  const closeAll = () => Promise.all(sources.map((s) => s.close()));
  try {
    // Targets and a mask may be bytes (numpy's bool or uint8 labels); predictions are floats.
    sources.push(await openSource(predictions));
    sources.push(await openSource(targets, { bytes: true }));
    if (options.mask !== undefined) sources.push(await openSource(options.mask, { bytes: true, mask: true }));
  } catch (e) {
    await closeAll();
    throw e;
  }
  const [pred, targ, mask] = sources as [Source, Source, Source | undefined];
  try {
    for (const other of sources.slice(1)) if (pred.dtype !== 'text' && other.dtype !== 'text') checkShapes(pred, other);
    const x = shared(chunk);
    const y = shared(chunk);
    const m = mask ? shared(chunk) : undefined;
    const keep = mask ? new Uint8Array(new SharedArrayBuffer(chunk)) : undefined;
    const w = options.weight ? shared(chunk) : undefined;
    const columns = () => (pred.shape.length === 2 && pred.shape[1] > 0 ? pred.shape[1] : 1);
    // Element losses are needed per column and per row; otherwise the pool sums.
    const perElement = options.perClass || reduction === 'rowMean';
    let perClass: { sum: number; count: number }[] | undefined;
    // Row means as each row ends (rows are contiguous in the stream): 4 bytes a row, in a Float32Array
    // grown by doubling (plain arrays of sums stopped Node at about 112M rows), the current row's sum
    // and kept count in float64.
    let rowMeans = new Float32Array(0);
    let rows = 0;
    let rowSum = 0;
    let rowKept = 0;
    const endRow = (): void => {
      if (rows === rowMeans.length) {
        const grown = new Float32Array(Math.max(1024, 2 * rows));
        grown.set(rowMeans);
        rowMeans = grown;
      }
      rowMeans[rows++] = rowSum / rowKept;
      rowSum = 0;
      rowKept = 0;
    };
    let sum = 0;
    let count = 0; // elements read
    let kept = 0; // elements counted (kept by the mask)
    let weightSum = 0;
    for (;;) {
      const reads = await Promise.all([pred.read(x), targ.read(y), ...(mask && m ? [mask.read(m)] : [])]);
      const a = reads[0];
      const shortest = Math.min(...reads);
      if (reads.some((r) => r !== a)) {
        const short = sources[reads.indexOf(shortest)];
        const longer = sources[reads.findIndex((r) => r !== shortest)];
        throw new FileError(`${short.file} ends at value ${count + shortest} but ${longer.file} goes on: shapes differ`);
      }
      if (a === 0) break;
      const c = columns();
      if (options.weight && options.weight.length !== c) {
        throw new FileError(`shape mismatch: --weight has ${options.weight.length} value${options.weight.length === 1 ? '' : 's'}, ${pred.file} has ${c} column${c === 1 ? '' : 's'}`);
      }
      let chunkKept = a;
      if (mask && m && keep) {
        chunkKept = 0;
        for (let i = 0; i < a; i++) {
          const v = m[i];
          if (v !== 0 && v !== 1) throw new ValueError(`${mask.where(count + i)}: mask value ${formatFloat32(v)} is not 0 or 1`);
          keep[i] = v;
          chunkKept += v;
        }
      }
      if (w && options.weight) {
        const wt = options.weight;
        for (let i = 0; i < a; i++) w[i] = wt[(count + i) % c];
        for (let i = 0; i < a; i++) if (!keep || keep[i]) weightSum += w[i];
      } else {
        weightSum += chunkKept;
      }
      const xs = x.subarray(0, a);
      const ys = y.subarray(0, a);
      const opts = {
        reduction: perElement ? ('none' as const) : ('sum' as const),
        ...(keep ? { mask: keep.subarray(0, a) } : {}),
        ...(w ? { weight: w.subarray(0, a) } : {}),
        ...(options.labelSmoothing ? { labelSmoothing: options.labelSmoothing } : {}),
      };
      let result: number | Float32Array;
      try {
        result = options.focal
          ? await pool.sigmoidFocalLoss(xs, ys, { ...opts, alpha: options.focal.alpha, gamma: options.focal.gamma })
          : options.logits
            ? await pool.binaryCrossEntropyWithLogits(xs, ys, opts)
            : await pool.binaryCrossEntropy(xs, ys, opts);
      } catch (e) {
        if (e instanceof OutOfRangeError) {
          const input = e.argument === 'input';
          const where = (input ? pred : targ).where(count + e.index);
          // A finite probability outside [0, 1] with a valid target is likely a logit.
          const v = e.value;
          const t = ys[e.index];
          const hint = input && Number.isFinite(v) && t >= 0 && t <= 1 ? '; looks like logits: pass --logits' : '';
          throw new ValueError(`${where}: ${input ? 'probability' : 'target'} ${formatFloat32(v)} is not in [0, 1]${hint}`);
        }
        throw e;
      }
      if (typeof result === 'number') {
        sum += result;
      } else {
        const losses = result;
        if (options.perClass) perClass ??= Array.from({ length: c }, () => ({ sum: 0, count: 0 }));
        let chunkSum = 0;
        for (let i = 0; i < a; i++) {
          const k = count + i;
          const counted = keep ? keep[i] : 1;
          if (perClass) {
            perClass[k % c].sum += losses[i];
            perClass[k % c].count += counted;
          }
          if (reduction === 'rowMean') {
            rowSum += losses[i];
            rowKept += counted;
            if ((k + 1) % c === 0) endRow();
          }
          chunkSum += losses[i];
        }
        sum += chunkSum;
      }
      count += a;
      kept += chunkKept;
      // A FIFO's size is unknown (0): the fraction stays at most 1.
      const done = sources.reduce((t, s) => t + s.bytesRead, 0);
      options.progress?.(Math.min(1, done / Math.max(1, sources.reduce((t, s) => t + s.bytes, 0))));
    }
    for (const other of sources.slice(1)) checkShapes(pred, other);
    const result: Score = { mean: sum / kept, sum, count: kept, shape: pred.shape };
    if (perClass) result.perClass = perClass.map((k) => ({ mean: k.sum / k.count, sum: k.sum, count: k.count }));
    if (reduction === 'weightedMean') {
      result.weightedMean = sum / weightSum;
      result.weightSum = weightSum;
    }
    if (reduction === 'rowMean') {
      if (count % columns() !== 0) endRow(); // (a last row cut short: its mean too)
      result.rowMean = rowMeans.subarray(0, rows);
      result.rowLength = columns();
    }
    return result;
  } finally {
    await closeAll();
  }
}

/** Writes `values` as a float32 .npy file of shape `[N]` (version 1.0). */
export async function writeNpy(file: string, values: Float32Array): Promise<void> {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${values.length},), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write(NPY_MAGIC, 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const data = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  // Through a file of its own beside it, renamed over `file` once complete: a write that fails (a full
  // disk) leaves no partial file, and an existing `file` as it was.
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, Buffer.concat([head, Buffer.from(header, 'latin1'), data]), { flag: 'w' });
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw cannotWrite(file, e);
  }
}

function cannotWrite(file: string, e: unknown): unknown {
  const r = cannotRead(file, e);
  return r instanceof FileError ? new FileError(r.message.replace(': cannot read: ', ': cannot write: ')) : r;
}
