/**
 * Reading PostgreSQL's text COPY output (`DbSession.copyTo`): one line per row, fields separated
 * by tabs, `\N` for null, and backslash escapes inside values. Millions of rows read this way
 * cost a fraction of the same rows as query results, which become one object per row.
 */

/** A row of COPY output: its fields as text, null for SQL NULL. */
export type CopyRow = (string | null)[];

/**
 * The rows of text COPY output, a batch per chunk of input (so a caller's loop stays
 * synchronous within a batch). Multi-byte characters and rows split across chunks are joined.
 *
 * A field of 13 characters or more is a view into its chunk's text (V8 slices strings), so
 * keeping one keeps the whole chunk: pass what is kept beyond the batch through {@link detached}.
 */
export async function* copyTextRows(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<CopyRow[]> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending = '';
  for await (const chunk of chunks) {
    const text = pending + decoder.decode(chunk, { stream: true });
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      pending = text;
      continue;
    }
    yield rowsOf(text, end);
    pending = text.slice(end + 1);
  }
  pending += decoder.decode();
  // COPY ends every row with a newline; anything left is a row cut short.
  if (pending.length > 0) throw new Error(`COPY output ended inside a row (${pending.length} characters after the last newline)`);
}

function rowsOf(text: string, end: number): CopyRow[] {
  const rows: CopyRow[] = [];
  let start = 0;
  while (start <= end) {
    const stop = text.indexOf('\n', start);
    const line = text.slice(start, stop);
    start = stop + 1;
    const fields: CopyRow = line.split('\t');
    for (let f = 0; f < fields.length; f++) {
      const field = fields[f]!;
      if (field === '\\N') fields[f] = null;
      else if (field.includes('\\')) fields[f] = unescapeCopyText(field);
    }
    rows.push(fields);
  }
  return rows;
}

const SIMPLE_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/**
 * A value of text COPY with its backslash escapes undone: `\n` and the other single letters,
 * octal `\123`, hex `\x41`; a backslash before anything else is that character.
 */
export function unescapeCopyText(value: string): string {
  return value.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/gs, (_, escape: string) => {
    if (escape.length > 1 && escape[0] === 'x') return String.fromCharCode(parseInt(escape.slice(1), 16));
    if (/^[0-7]/.test(escape)) return String.fromCharCode(parseInt(escape, 8));
    return SIMPLE_ESCAPES[escape] ?? escape;
  });
}

const detachEncoder = new TextEncoder();
const detachDecoder = new TextDecoder();
const detachBuffer = new Uint8Array(1024);

/**
 * `value` as a string of its own, holding no view into a larger string such as a COPY chunk:
 * its UTF-8 bytes decoded afresh. (Slicing a copy, the usual trick, keeps a slice and its
 * parent: some 30 bytes more a string, which a million kept record ids notice.)
 */
export function detached(value: string): string {
  if (value.length < 13) return value;
  if (value.length * 3 > detachBuffer.length) return (' ' + value).slice(1);
  const { written } = detachEncoder.encodeInto(value, detachBuffer);
  return detachDecoder.decode(detachBuffer.subarray(0, written));
}

/**
 * A function that gives one shared, detached string per distinct value: for values kept from COPY
 * output that repeat (addresses, dates, postcodes), so each is stored once and holds no chunk.
 */
export function interner(): (value: string) => string {
  const seen = new Map<string, string>();
  return (value) => {
    let own = seen.get(value);
    if (own === undefined) {
      own = detached(value);
      seen.set(own, own);
    }
    return own;
  };
}
