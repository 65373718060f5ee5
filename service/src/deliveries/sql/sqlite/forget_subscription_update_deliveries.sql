UPDATE deliveries SET state = ?3, reason = ?4, updated_at = ?2
WHERE subscription_id = ?1 AND state IN ('queued', 'retrying')
