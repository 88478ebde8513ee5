-- Where a resumed import reads on: the byte offset in the upload of the
-- first record not yet applied (resume_line is its line), so a worker
-- that restarts reads only from there, not the whole upload again.
ALTER TABLE imports ADD COLUMN resume_offset bigint NOT NULL DEFAULT 0 CHECK (resume_offset >= 0);
