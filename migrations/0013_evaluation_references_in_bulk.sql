-- The rules' rows point at their evaluation through statement-level checks, not per-row foreign keys.
--
-- Migration 0008 swapped the per-row foreign keys of the bulk tables for statement-level checks
-- (core.check_reference), but kept the keys to core.rules_evaluation because their deletes
-- cascade: evaluating again within one run replaces the earlier evaluation (src/rules/evaluate.ts).
-- Each key checked and locked its evaluation row once per row written: 76k evidence rows, 31k tier
-- changes and some 30k other rows at the 1x bench council, 0.2 to 0.45 s for the evidence alone.
--
-- Here the six keys become the same pair of statement-level triggers as 0008's (insert, update:
-- SQLSTATE 23503 for a row pointing at no evaluation), and the cascade a statement-level trigger
-- on core.rules_evaluation that deletes the rows of the evaluations a statement deleted. The keys
-- also refused to change an evaluation's id while rows point at it: that needs no stand-in, the id
-- is an identity column GENERATED ALWAYS, which no UPDATE may set. The claims' key to
-- core.rules_evaluation (0007) is not touched: it refuses to delete an evaluation a claim was
-- drafted from.

SELECT core.reference_in_bulk(t.tbl::regclass, t.fkey, 'evaluation_id', 'core.rules_evaluation'::regclass, 'evaluation_id') FROM (VALUES
  ('core.rule_evidence',       'rule_evidence_evaluation_id_fkey'),
  ('core.problem_at_entry',    'problem_at_entry_evaluation_id_fkey'),
  ('core.eligible_unattached', 'eligible_unattached_evaluation_id_fkey'),
  ('core.problem_result',      'problem_result_evaluation_id_fkey'),
  ('core.family_verdict',      'family_verdict_evaluation_id_fkey'),
  ('core.tier_history',        'tier_history_evaluation_id_fkey')
) AS t(tbl, fkey);

CREATE FUNCTION core.delete_evaluation_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM core.rule_evidence       WHERE evaluation_id IN (SELECT evaluation_id FROM deleted);
  DELETE FROM core.problem_at_entry    WHERE evaluation_id IN (SELECT evaluation_id FROM deleted);
  DELETE FROM core.eligible_unattached WHERE evaluation_id IN (SELECT evaluation_id FROM deleted);
  DELETE FROM core.problem_result      WHERE evaluation_id IN (SELECT evaluation_id FROM deleted);
  DELETE FROM core.family_verdict      WHERE evaluation_id IN (SELECT evaluation_id FROM deleted);
  DELETE FROM core.tier_history        WHERE evaluation_id IN (SELECT evaluation_id FROM deleted);
  RETURN NULL;
END
$$;
COMMENT ON FUNCTION core.delete_evaluation_rows() IS
  'Statement-level trigger on core.rules_evaluation: deletes the rows of the evaluations deleted (what ON DELETE CASCADE did). See migrations/0013_evaluation_references_in_bulk.sql.';
CREATE TRIGGER delete_evaluation_rows AFTER DELETE ON core.rules_evaluation
  REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION core.delete_evaluation_rows();
