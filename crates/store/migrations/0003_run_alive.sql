-- A running run's promise to be alive: the process that started it pushes `alive_until` forward
-- (with the same time to live as its device leases) until it finishes the run. A run still
-- `running` after that time was abandoned: its process was killed or its machine went down.
-- NULL for runs recorded before this column existed.

ALTER TABLE runs ADD COLUMN alive_until BIGINT;
