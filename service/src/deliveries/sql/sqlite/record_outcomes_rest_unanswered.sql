UPDATE deliveries SET next_attempt_at = ?3
WHERE subscription_id = ?1 AND id <> ?2
  AND state IN ('queued', 'retrying') AND next_attempt_at < ?3
