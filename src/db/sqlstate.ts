/** PostgreSQL error codes (SQLSTATE) that the pipeline reacts to. */
export const SqlState = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  restrictViolation: '23001',
  checkViolation: '23514',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  lockNotAvailable: '55P03',
  undefinedTable: '42P01',
  duplicateDatabase: '42P04',
  invalidCatalogName: '3D000',
  insufficientPrivilege: '42501',
  cannotConnectNow: '57P03',
  raiseException: 'P0001',
  /** An UPDATE setting an identity column GENERATED ALWAYS (an evaluation's id, a run's). */
  generatedAlways: '428C9',
} as const;

/** The SQLSTATE of a database error from either driver, if it has one. */
export function sqlStateOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}
