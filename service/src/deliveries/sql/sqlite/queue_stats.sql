SELECT COUNT(*), MIN(created_at) FROM deliveries
WHERE state IN ('queued', 'retrying')
