-- Two costs of a run's bulk writes, cut without changing what they guarantee.
--
-- 1. The statement-level reference checks (migration 0008) ask for the first missing value
--    (LIMIT 1). The planner costs a LIMIT 1 as if a row would be found at once, so even for the
--    1.9M person records of the 1x bench council it chose one index lookup a row: 1.9 s against
--    core.person and 1.1 s against audit.run, where hash anti-joins take 0.75 s and 0.25 s.
--    A statement of 100,000 rows or more is now checked by asking for the smallest missing value
--    (min), which makes the planner cost the whole scan and hash. Smaller statements are checked
--    as before: there the lookups win (31k tier-history rows: 0.03 s, against 0.2 s to hash
--    core.person's 600k rows), and a correlated subquery forced to look up each row cost more
--    (7 us a row) than the planner's own nested loop. Same error, same SQLSTATE; the value it
--    names is a missing one (for a big statement, the smallest).

-- 2. New person and family ids were drawn one nextval at a time (2.0 s for 600k people at 1x).
--    core.reserve_ids takes a whole block with one nextval and one setval. The pipeline role
--    may use the sequences but not setval them (setval can also move a sequence backwards), so
--    the function runs as its owner and does only this: move the sequence of core.person or
--    core.family forward by the block it returns. Reservations of one sequence are serialised by
--    a transaction-level advisory lock, so two runs never get overlapping blocks.

CREATE OR REPLACE FUNCTION core.check_reference() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  col        text := TG_ARGV[0];
  target     text := TG_ARGV[1];
  target_col text := TG_ARGV[2];
  changed_rows bigint;
  missing    text;
BEGIN
  SELECT count(*) INTO changed_rows FROM changed;
  IF changed_rows < 100000 THEN
    EXECUTE format(
      'SELECT n.%1$I::text FROM changed n WHERE n.%1$I IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %2$s r WHERE r.%3$I = n.%1$I) LIMIT 1',
      col, target, target_col) INTO missing;
  ELSE
    EXECUTE format(
      'SELECT min(n.%1$I)::text FROM changed n WHERE n.%1$I IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %2$s r WHERE r.%3$I = n.%1$I)',
      col, target, target_col) INTO missing;
  END IF;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'insert or update on table "%" violates reference "%": %=% is not present in table "%"',
      TG_TABLE_NAME, col || ' -> ' || target || '.' || target_col, col, missing, target
      USING ERRCODE = 'foreign_key_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME, COLUMN = col;
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION core.reserve_ids(tbl regclass, how_many integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  seq   regclass;
  first bigint;
BEGIN
  IF tbl NOT IN ('core.person'::regclass, 'core.family'::regclass) THEN
    RAISE EXCEPTION 'core.reserve_ids reserves ids of core.person and core.family only, not of %', tbl
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF how_many IS NULL OR how_many < 1 THEN
    RAISE EXCEPTION 'core.reserve_ids needs a positive number of ids, not %', how_many
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  seq := pg_get_serial_sequence(tbl::text, CASE WHEN tbl = 'core.person'::regclass THEN 'person_id' ELSE 'family_id' END)::regclass;
  -- One reservation of a sequence at a time: between this nextval and setval no other
  -- reservation may draw from it. (Nothing else draws these ids: rows are inserted with ids
  -- reserved here.)
  PERFORM pg_advisory_xact_lock(CASE WHEN tbl = 'core.person'::regclass THEN 7425114110 ELSE 7425114111 END);
  first := nextval(seq);
  IF how_many > 1 THEN
    PERFORM setval(seq, first + how_many - 1);
  END IF;
  RETURN first;
END
$$;
COMMENT ON FUNCTION core.reserve_ids(regclass, integer) IS
  'Reserve a block of new ids of core.person or core.family: returns the first, the block is the next how_many ids. See migrations/0011_bulk_ids_and_checks.sql.';
REVOKE EXECUTE ON FUNCTION core.reserve_ids(regclass, integer) FROM PUBLIC;
-- A database whose roles were made before this migration: the pipeline may reserve ids at once
-- (`tfclaims db roles` grants the same).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tfclaims_pipeline') THEN
    GRANT EXECUTE ON FUNCTION core.reserve_ids(regclass, integer) TO tfclaims_pipeline;
  END IF;
END
$$;
