/**
 * Strict date parsing for extract cells. Hand-written rather than a date library because it
 * runs on every date cell of every row (millions per run) and must reject what libraries
 * "helpfully" roll over (2011-02-30 is not 2 March). Output is always ISO `YYYY-MM-DD`.
 */

/** Date layouts a column mapping may declare. `auto` accepts the two canonical ones. */
export const DATE_FORMATS = [
  'auto',
  'YYYY-MM-DD',
  'DD/MM/YYYY',
  'DD-MM-YYYY',
  'DD.MM.YYYY',
  'YYYYMMDD',
  'DD-MMM-YYYY',
  'DD MMM YYYY',
] as const;
export type DateFormat = (typeof DATE_FORMATS)[number];

const MONTHS: Record<string, number> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, sept: 9, oct: 10, nov: 11, dec: 12,
};

const PATTERNS: Record<Exclude<DateFormat, 'auto'>, RegExp> = {
  'YYYY-MM-DD': /^(\d{4})-(\d{1,2})-(\d{1,2})$/,
  'DD/MM/YYYY': /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/,
  'DD-MM-YYYY': /^(\d{1,2})-(\d{1,2})-(\d{4})$/,
  'DD.MM.YYYY': /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/,
  YYYYMMDD: /^(\d{4})(\d{2})(\d{2})$/,
  'DD-MMM-YYYY': /^(\d{1,2})-([A-Za-z]{3,4})-(\d{4})$/,
  'DD MMM YYYY': /^(\d{1,2}) ([A-Za-z]{3,4}) (\d{4})$/,
};

export const MIN_YEAR = 1900;
export const MAX_YEAR = 2099;

export type DateResult = { ok: true; iso: string } | { ok: false; problem: 'format' | 'not_real' | 'range' };

/** Days in a month of the proleptic Gregorian calendar. */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function build(year: number, month: number, day: number): DateResult {
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return { ok: false, problem: 'not_real' };
  if (year < MIN_YEAR || year > MAX_YEAR) return { ok: false, problem: 'range' };
  return {
    ok: true,
    iso: `${year}-${month < 10 ? '0' : ''}${month}-${day < 10 ? '0' : ''}${day}`,
  };
}

function parseWith(value: string, format: Exclude<DateFormat, 'auto'>): DateResult | undefined {
  const m = PATTERNS[format].exec(value);
  if (!m) return undefined;
  const a = m[1]!;
  const b = m[2]!;
  const c = m[3]!;
  switch (format) {
    case 'YYYY-MM-DD':
    case 'YYYYMMDD':
      return build(Number(a), Number(b), Number(c));
    case 'DD-MMM-YYYY':
    case 'DD MMM YYYY': {
      const month = MONTHS[b.toLowerCase()];
      return month === undefined ? { ok: false, problem: 'not_real' } : build(Number(c), month, Number(a));
    }
    default:
      return build(Number(c), Number(b), Number(a));
  }
}

const ZERO = 48;

function digit(value: string, at: number): number {
  const d = value.charCodeAt(at) - ZERO;
  return d >= 0 && d <= 9 ? d : -1;
}

/** Fast path for the common case, a zero-padded `YYYY-MM-DD`: no regex, and no new string when it is valid. */
function parseIsoFast(value: string): DateResult | undefined {
  if (value.length !== 10 || value.charCodeAt(4) !== 45 || value.charCodeAt(7) !== 45) return undefined;
  const y0 = digit(value, 0), y1 = digit(value, 1), y2 = digit(value, 2), y3 = digit(value, 3);
  const m0 = digit(value, 5), m1 = digit(value, 6), d0 = digit(value, 8), d1 = digit(value, 9);
  if ((y0 | y1 | y2 | y3 | m0 | m1 | d0 | d1) < 0) return undefined;
  const year = y0 * 1000 + y1 * 100 + y2 * 10 + y3;
  const month = m0 * 10 + m1;
  const day = d0 * 10 + d1;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return { ok: false, problem: 'not_real' };
  if (year < MIN_YEAR || year > MAX_YEAR) return { ok: false, problem: 'range' };
  return { ok: true, iso: value };
}

/** Parse one date cell in the given layout; `auto` tries `YYYY-MM-DD` then `DD/MM/YYYY`. */
export function parseDate(value: string, format: DateFormat = 'auto'): DateResult {
  if (format === 'auto' || format === 'YYYY-MM-DD') {
    const fast = parseIsoFast(value);
    if (fast) return fast;
  }
  if (format === 'auto') {
    return parseWith(value, 'YYYY-MM-DD') ?? parseWith(value, 'DD/MM/YYYY') ?? { ok: false, problem: 'format' };
  }
  return parseWith(value, format) ?? { ok: false, problem: 'format' };
}

/** What a person should read for a date that failed, e.g. `dob 2011-02-30 is not a real date`. */
export function describeDateProblem(column: string, value: string, problem: 'format' | 'not_real' | 'range', format: DateFormat): string {
  switch (problem) {
    case 'not_real':
      return `${column} ${value} is not a real date`;
    case 'range':
      return `${column} ${value} is outside the years ${MIN_YEAR}-${MAX_YEAR}`;
    case 'format':
      return format === 'auto'
        ? `${column} ${value} is not a date in YYYY-MM-DD or DD/MM/YYYY form`
        : `${column} ${value} is not a date in the mapping's ${format} form`;
  }
}
