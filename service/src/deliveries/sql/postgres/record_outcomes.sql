WITH recorded AS (
    UPDATE deliveries d SET state = v.state, attempts = v.attempts,
        last_status = v.status, reason = v.reason,
        next_attempt_at = COALESCE(v.next_at, d.next_attempt_at),
        leased_until = 0, updated_at = $7
    FROM UNNEST($1::bigint[], $2::text[], $3::int[], $4::int[], $5::text[],
                $6::bigint[]) AS v(id, state, attempts, status, reason, next_at)
    WHERE d.id = v.id
), forgotten AS (
    UPDATE subscriptions SET endpoint = NULL, p256dh = NULL, auth = NULL,
        gone_at = $7
    WHERE id = ANY($8) AND endpoint IS NOT NULL
    RETURNING id
), dropped AS (
    UPDATE deliveries SET state = $13::text, reason = $14::text,
        leased_until = 0, updated_at = $7
    WHERE subscription_id = ANY($8) AND state IN ('queued', 'retrying')
      AND NOT (id = ANY($1))
), cursors AS (
    UPDATE subscriptions s SET changes_seq = greatest(s.changes_seq, v.seq)
    FROM UNNEST($9::text[], $10::bigint[]) AS v(id, seq)
    WHERE s.id = v.id
), resting AS (
    UPDATE deliveries d SET next_attempt_at = v.until
    FROM (SELECT id, max(until) AS until
          FROM UNNEST($11::text[], $12::bigint[]) AS r(id, until)
          GROUP BY id) AS v
    WHERE d.subscription_id = v.id AND d.state IN ('queued', 'retrying')
      AND d.next_attempt_at < v.until AND NOT (d.id = ANY($1))
)
SELECT (SELECT array_agg(id) FROM forgotten)
FROM (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous
