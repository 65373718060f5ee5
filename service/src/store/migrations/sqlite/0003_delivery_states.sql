-- Each delivery keeps its state after its attempts (GET .../deliveries): rows are no
-- longer deleted once sent. Rows of earlier files were all still queued.
ALTER TABLE deliveries ADD COLUMN state TEXT NOT NULL DEFAULT 'queued';
ALTER TABLE deliveries ADD COLUMN reason TEXT;
ALTER TABLE deliveries ADD COLUMN last_status INTEGER;
ALTER TABLE deliveries ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE deliveries SET state = CASE WHEN attempts > 0 THEN 'retrying' ELSE 'queued' END,
    updated_at = created_at;
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state IN ('queued', 'retrying');
CREATE INDEX deliveries_by_notification ON deliveries (notification_id);
