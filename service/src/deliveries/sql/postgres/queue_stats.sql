SELECT count(*), min(created_at) FROM deliveries
WHERE state IN ('queued', 'retrying')
