-- Queue depth is counted over unfinished jobs only, and finished jobs are
-- purged after JOB_RETENTION: neither has to read the done jobs one by one.

CREATE INDEX jobs_unfinished_idx ON jobs (state, run_at) WHERE state <> 'done';
CREATE INDEX jobs_done_idx ON jobs (finished_at) WHERE state = 'done';
