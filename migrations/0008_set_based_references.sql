-- References checked per statement, not per row, on the tables a run fills in bulk.
--
-- A foreign key checks every inserted row with a query of its own. On the tables a monthly run
-- fills with millions of rows (person records, scored pairs, memberships, rules evidence) that
-- was most of the time the database spent: inserting 1.9M person records took 6 s without
-- foreign keys, 15 s with the key to core.person and 26 s with that and the key to audit.run
-- (measured on the 1x bench council). Here each such key becomes a statement-level trigger that
-- checks all the rows of one INSERT, COPY or UPDATE together, with one anti-join, and raises the
-- same error a foreign key would (SQLSTATE 23503, foreign_key_violation).
--
-- A foreign key also stops a referenced row from being deleted. The rows referenced here are
-- never deleted: audit.run is append-only (migration 0006), and core.person and core.family
-- refuse DELETE and TRUNCATE below (an id that goes out of use is a recorded merge or split,
-- never a deleted row). So the checks on insert and update are the whole guarantee.
--
-- Keys whose deletes cascade (evaluation_id -> core.rules_evaluation) stay foreign keys.

CREATE FUNCTION core.check_reference() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  col        text := TG_ARGV[0];
  target     text := TG_ARGV[1];
  target_col text := TG_ARGV[2];
  missing    text;
BEGIN
  EXECUTE format(
    'SELECT n.%1$I::text FROM changed n WHERE n.%1$I IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %2$s r WHERE r.%3$I = n.%1$I) LIMIT 1',
    col, target, target_col) INTO missing;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'insert or update on table "%" violates reference "%": %=% is not present in table "%"',
      TG_TABLE_NAME, col || ' -> ' || target || '.' || target_col, col, missing, target
      USING ERRCODE = 'foreign_key_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME, COLUMN = col;
  END IF;
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION core.check_reference() IS
  'Statement-level reference check (arguments: column, referenced table, referenced column) standing in for a foreign key on a bulk-loaded table. See migrations/0008_set_based_references.sql.';

-- Swap one foreign key for the two statement-level triggers (insert, update) that check it.
CREATE FUNCTION core.reference_in_bulk(tbl regclass, fkey text, col text, target regclass, target_col text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', tbl, fkey);
  EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION core.check_reference(%L, %L, %L)',
                 'references_' || col || '_on_insert', tbl, col, target::text, target_col);
  EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION core.check_reference(%L, %L, %L)',
                 'references_' || col || '_on_update', tbl, col, target::text, target_col);
END
$$;
REVOKE EXECUTE ON FUNCTION core.reference_in_bulk(regclass, text, text, regclass, text) FROM PUBLIC;

SELECT core.reference_in_bulk(t.tbl::regclass, t.fkey, t.col, t.target::regclass, t.target_col) FROM (VALUES
  ('core.person',              'person_created_run_fkey',               'created_run', 'audit.run',   'run_id'),
  ('core.person_record',       'person_record_person_id_fkey',          'person_id',   'core.person', 'person_id'),
  ('core.person_record',       'person_record_run_id_fkey',             'run_id',      'audit.run',   'run_id'),
  ('core.link_pair',           'link_pair_run_id_fkey',                 'run_id',      'audit.run',   'run_id'),
  ('core.person_detail',       'person_detail_person_id_fkey',          'person_id',   'core.person', 'person_id'),
  ('core.person_detail',       'person_detail_run_id_fkey',             'run_id',      'audit.run',   'run_id'),
  ('core.family',              'family_created_run_fkey',               'created_run', 'audit.run',   'run_id'),
  ('core.family_member',       'family_member_family_id_fkey',          'family_id',   'core.family', 'family_id'),
  ('core.family_member',       'family_member_person_id_fkey',          'person_id',   'core.person', 'person_id'),
  ('core.family_member',       'family_member_joined_run_fkey',         'joined_run',  'audit.run',   'run_id'),
  ('core.family_member',       'family_member_left_run_fkey',           'left_run',    'audit.run',   'run_id'),
  ('core.rule_evidence',       'rule_evidence_family_id_fkey',          'family_id',   'core.family', 'family_id'),
  ('core.rule_evidence',       'rule_evidence_run_id_fkey',             'run_id',      'audit.run',   'run_id'),
  ('core.problem_at_entry',    'problem_at_entry_family_id_fkey',       'family_id',   'core.family', 'family_id'),
  ('core.problem_at_entry',    'problem_at_entry_run_id_fkey',          'run_id',      'audit.run',   'run_id'),
  ('core.eligible_unattached', 'eligible_unattached_family_id_fkey',    'family_id',   'core.family', 'family_id'),
  ('core.eligible_unattached', 'eligible_unattached_run_id_fkey',       'run_id',      'audit.run',   'run_id'),
  ('core.problem_result',      'problem_result_family_id_fkey',         'family_id',   'core.family', 'family_id'),
  ('core.problem_result',      'problem_result_run_id_fkey',            'run_id',      'audit.run',   'run_id'),
  ('core.family_verdict',      'family_verdict_family_id_fkey',         'family_id',   'core.family', 'family_id'),
  ('core.family_verdict',      'family_verdict_run_id_fkey',            'run_id',      'audit.run',   'run_id'),
  ('core.tier_history',        'tier_history_person_id_fkey',           'person_id',   'core.person', 'person_id'),
  ('core.tier_history',        'tier_history_family_id_fkey',           'family_id',   'core.family', 'family_id'),
  ('core.tier_history',        'tier_history_run_id_fkey',              'run_id',      'audit.run',   'run_id')
) AS t(tbl, fkey, col, target, target_col);

-- People and families are never deleted (what a foreign key's delete check protected).
CREATE FUNCTION core.forbid_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are never deleted: an id that goes out of use is a merge or split, recorded in the change tables', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
END
$$;
CREATE TRIGGER never_deleted BEFORE DELETE ON core.person FOR EACH STATEMENT EXECUTE FUNCTION core.forbid_delete();
CREATE TRIGGER never_truncated BEFORE TRUNCATE ON core.person FOR EACH STATEMENT EXECUTE FUNCTION core.forbid_delete();
CREATE TRIGGER never_deleted BEFORE DELETE ON core.family FOR EACH STATEMENT EXECUTE FUNCTION core.forbid_delete();
CREATE TRIGGER never_truncated BEFORE TRUNCATE ON core.family FOR EACH STATEMENT EXECUTE FUNCTION core.forbid_delete();
