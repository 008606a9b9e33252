/**
 * The frame of PostgreSQL's binary COPY format: a stream is this header, tuples, then the
 * trailer. Stages write tuples; the session frames them (once on a server, once per blob on PGlite).
 */

/** Signature, flags (none) and header extension length (none). */
export const BINARY_COPY_HEADER: Uint8Array = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);

/** A tuple of -1 fields: the end of the data. */
export const BINARY_COPY_TRAILER: Uint8Array = Buffer.from([0xff, 0xff]);
