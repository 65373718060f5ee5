SELECT min(greatest(next_attempt_at, leased_until)) FROM (
    SELECT next_attempt_at, leased_until FROM deliveries
    WHERE state IN ('queued', 'retrying')
      AND user_id <> ALL($1::text[]) AND push_host <> ALL($2::text[])
    ORDER BY next_attempt_at LIMIT 256
) AS head
