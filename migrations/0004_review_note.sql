-- Clerical review (issue 3): a reviewer may say why they decided, e.g. "school confirmed the
-- change of surname". The note can hold personal data, so it is stored here only: it is never
-- logged, and `tfclaims review list` / `explain-match` print it only with --show-records.
ALTER TABLE core.review_decision ADD COLUMN note text;
