SELECT next_attempt_at FROM deliveries
WHERE state IN ('queued', 'retrying')
  AND id NOT IN (SELECT value FROM json_each(?1))
  AND user_id NOT IN (SELECT value FROM json_each(?2))
  AND push_host NOT IN (SELECT value FROM json_each(?3))
ORDER BY next_attempt_at LIMIT 1
