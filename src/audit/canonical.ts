import { createHash } from 'node:crypto';

/**
 * Canonical JSON and the seal hash: the pure half of the run chain (no database).
 *
 * Canonical JSON is what makes a seal recomputable: the same content always gives the same text,
 * whichever order its keys were built or stored in (jsonb reorders keys). The rules:
 *   - object keys sorted by UTF-16 code units (JavaScript's default sort), no whitespace anywhere;
 *   - strings and numbers written as JSON.stringify writes them (so `1.0` is `1`, non-ASCII is
 *     kept as is, control characters are escaped), hence the text never holds a raw line break;
 *   - `null`, `true`, `false`; keys whose value is undefined are left out (as JSON.stringify does).
 * This is RFC 8785 (JCS) for the values a seal holds: strings, integers, and the small decimals
 * of run summaries.
 */

/** prev_hash of the first seal: no seal comes before it. */
export const GENESIS_HASH = '0'.repeat(64);

/** A JSON value as the seal content holds it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Serialise a JSON value canonically (see the module comment). Throws on values JSON cannot hold. */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      // NaN and Infinity have no JSON form; JSON.stringify would write null and lose the difference.
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot hold the number ${value}`);
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
      if (value instanceof Date) throw new TypeError('canonical JSON holds times as text: format the Date first');
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

/** Lower-case hex SHA-256 of a UTF-8 string. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * A seal's hash: SHA-256 of the previous seal's hash (64 lower-case hex characters, or
 * GENESIS_HASH for the first seal) immediately followed by the canonical content, as UTF-8.
 * By hand: `printf '%s%s' "$PREV_HASH" "$CONTENT" | sha256sum`.
 */
export function sealHash(prevHash: string, content: string): string {
  return sha256Hex(prevHash + content);
}
