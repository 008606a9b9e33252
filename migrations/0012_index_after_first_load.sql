-- A first run loads the person records, stored pairs, memberships and person details into empty
-- tables (1.9M, 1.1M, 600k and 600k rows at the 1x bench council). Keeping their indexes up to date
-- row by row cost more than writing the rows: 1.9M person records took 11.9 s into the indexed
-- table, and 2.6 s into the bare table plus 2.7 s to build its two indexes afterwards (PostgreSQL's
-- own advice for a first load: "Remove Indexes", then create them).
--
-- core.drop_indexes_for_load(table) drops the indexes of one of those four tables, and only when
-- the table is empty (in every other run the few changed rows go through the indexes as before);
-- core.restore_indexes(table) creates them again, with the same names and definitions, in the
-- same transaction. Both run as the tables' owner (the pipeline role may not drop an index), and
-- do nothing else.
--
-- Guarantees kept:
--  * Uniqueness: a primary key rebuilt over duplicate rows fails, and with it the transaction,
--    as the insert would have.
--  * Nothing commits without its indexes: what was dropped is listed in
--    tfclaims_meta.deferred_index, and a deferred trigger refuses the commit while a listed index
--    has not been restored. A failed or killed run rolls the drop back with everything else.
--  * A table that another table's foreign key refers to is never touched.
--  * The table is locked (ACCESS EXCLUSIVE) from the drop to the commit: others wait for the
--    first run's match stage to finish before they read its people.

CREATE TABLE tfclaims_meta.deferred_index (
  table_name    regclass NOT NULL,
  index_name    text NOT NULL,
  -- The statement that creates it again: ALTER TABLE ... ADD CONSTRAINT for a primary key or
  -- unique constraint, CREATE INDEX for the others.
  create_again  text NOT NULL,
  is_constraint boolean NOT NULL,
  PRIMARY KEY (table_name, index_name)
);
COMMENT ON TABLE tfclaims_meta.deferred_index IS
  'Indexes dropped for a first load and not yet created again; empty outside a run''s transaction. See migrations/0012_index_after_first_load.sql.';

-- Runs at commit as whoever commits (the pipeline may not read the list): as the owner, then.
CREATE FUNCTION tfclaims_meta.deferred_index_restored() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM tfclaims_meta.deferred_index d WHERE d.table_name = NEW.table_name AND d.index_name = NEW.index_name) THEN
    RAISE EXCEPTION 'index % of % was dropped for a first load and not created again', NEW.index_name, NEW.table_name
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'call core.restore_indexes before the transaction commits';
  END IF;
  RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER deferred_index_restored AFTER INSERT ON tfclaims_meta.deferred_index
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tfclaims_meta.deferred_index_restored();

CREATE FUNCTION core.drop_indexes_for_load(tbl regclass) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ix      record;
  dropped integer := 0;
  empty   boolean;
BEGIN
  IF tbl NOT IN ('core.person_record'::regclass, 'core.link_pair'::regclass, 'core.family_member'::regclass, 'core.person_detail'::regclass) THEN
    RAISE EXCEPTION 'core.drop_indexes_for_load drops the indexes of core.person_record, core.link_pair, core.family_member and core.person_detail only, not of %', tbl
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint c WHERE c.confrelid = tbl AND c.contype = 'f') THEN
    RETURN 0;
  END IF;
  EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', tbl);
  EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s)', tbl) INTO empty;
  IF NOT empty THEN
    RETURN 0;
  END IF;
  FOR ix IN
    SELECT i.indexrelid::regclass AS index_oid, ci.relname AS index_name, c.oid AS constraint_oid, c.conname
    FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid
    LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = tbl AND c.contype IN ('p', 'u')
    WHERE i.indrelid = tbl
    ORDER BY ci.relname
  LOOP
    IF ix.constraint_oid IS NOT NULL THEN
      INSERT INTO tfclaims_meta.deferred_index (table_name, index_name, create_again, is_constraint)
      VALUES (tbl, ix.index_name, format('ALTER TABLE %s ADD CONSTRAINT %I %s', tbl, ix.conname, pg_get_constraintdef(ix.constraint_oid)), true);
      EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', tbl, ix.conname);
    ELSE
      INSERT INTO tfclaims_meta.deferred_index (table_name, index_name, create_again, is_constraint)
      VALUES (tbl, ix.index_name, pg_get_indexdef(ix.index_oid), false);
      EXECUTE format('DROP INDEX %s', ix.index_oid);
    END IF;
    dropped := dropped + 1;
  END LOOP;
  RETURN dropped;
END
$$;
COMMENT ON FUNCTION core.drop_indexes_for_load(regclass) IS
  'Drop the indexes of an empty core.person_record, core.link_pair, core.family_member or core.person_detail before a first load; core.restore_indexes must follow in the same transaction. Returns how many (0: the table is not empty). See migrations/0012_index_after_first_load.sql.';

CREATE FUNCTION core.restore_indexes(tbl regclass) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ix       record;
  restored integer := 0;
BEGIN
  -- Constraints first: the primary key is the index the others are least likely to fail without.
  FOR ix IN SELECT d.index_name, d.create_again FROM tfclaims_meta.deferred_index d WHERE d.table_name = tbl ORDER BY d.is_constraint DESC, d.index_name LOOP
    EXECUTE ix.create_again;
    DELETE FROM tfclaims_meta.deferred_index d WHERE d.table_name = tbl AND d.index_name = ix.index_name;
    restored := restored + 1;
  END LOOP;
  RETURN restored;
END
$$;
COMMENT ON FUNCTION core.restore_indexes(regclass) IS
  'Create again the indexes core.drop_indexes_for_load dropped from a table in this transaction. Returns how many. See migrations/0012_index_after_first_load.sql.';

REVOKE EXECUTE ON FUNCTION core.drop_indexes_for_load(regclass) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION core.restore_indexes(regclass) FROM PUBLIC;
-- A database whose roles were made before this migration (`tfclaims db roles` grants the same).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tfclaims_pipeline') THEN
    GRANT EXECUTE ON FUNCTION core.drop_indexes_for_load(regclass) TO tfclaims_pipeline;
    GRANT EXECUTE ON FUNCTION core.restore_indexes(regclass) TO tfclaims_pipeline;
  END IF;
END
$$;
