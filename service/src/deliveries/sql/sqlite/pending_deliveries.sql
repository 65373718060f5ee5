SELECT COUNT(*) FROM deliveries WHERE state IN ('queued', 'retrying')
