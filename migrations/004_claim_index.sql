-- The claim looks at each project's first queued jobs only (a loose index
-- scan over the projects with queued jobs, then a few jobs per project), so
-- its cost follows the number of projects, not the depth of the queue.
CREATE INDEX jobs_queued_project ON jobs ((coalesce(project, '')), priority, run_after, id) WHERE state = 'queued';
