-- Incremental matching: a monthly run links only the records that are new or changed since the
-- last match run, against the people already found, with the model that run trained.
--
-- core.person_record.linkage_key: a 53-bit hash of the linkage fields of the record as the run
-- that wrote it compared them (the profile key: source, person id, normalised names, date of
-- birth, sex, postcode, UPRN, house number), so the next run can tell an unchanged record from a
-- corrected one without keeping copies of the fields. Null on rows written before this
-- migration: such a record counts as changed once.
ALTER TABLE core.person_record ADD COLUMN linkage_key bigint;
COMMENT ON COLUMN core.person_record.linkage_key IS 'Hash of the record''s linkage fields when last linked; a record whose fields hash the same next month is unchanged (incremental matching).';

-- How each match run linked: `full` (every record, model trained on this run's pairs) or
-- `incremental` (new and changed records only, with the model of model_run; the pairs of
-- unchanged records were carried forward from the previous match run unchanged).
ALTER TABLE core.link_model
  ADD COLUMN mode text NOT NULL DEFAULT 'full' CHECK (mode IN ('full', 'incremental')),
  ADD COLUMN model_run bigint,
  ADD COLUMN fresh_profiles integer CHECK (fresh_profiles >= 0),
  ADD COLUMN carried_pairs bigint CHECK (carried_pairs >= 0);
COMMENT ON COLUMN core.link_model.mode IS 'full: every record linked and the model trained in this run; incremental: only new or changed records scored, with the model of model_run.';
COMMENT ON COLUMN core.link_model.model_run IS 'The match run that trained the model used (this run when mode = full).';
COMMENT ON COLUMN core.link_model.fresh_profiles IS 'Profiles (groups of identical records) new or changed since the previous match run.';
COMMENT ON COLUMN core.link_model.carried_pairs IS 'Scored pairs of unchanged records copied from the previous match run (incremental runs).';
