SELECT count(*) FROM deliveries WHERE state IN ('queued', 'retrying')
