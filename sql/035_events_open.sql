-- Whether anything is in flight, asked on kilnd's reaper tick (kilnd.c
-- kilnd_probe()): with nothing, the tick slows down and kilnd keeps no
-- PostgreSQL session but its listening one.  runs_active (005) answers
-- for runs; this answers for events without reading their history.
CREATE INDEX events_open ON events (id) WHERE status <> 'completed';
