WITH candidates AS (
    SELECT id, user_id, push_host, next_attempt_at FROM deliveries
    WHERE state IN ('queued', 'retrying') AND next_attempt_at <= $1
      AND leased_until <= $1
      AND user_id <> ALL($6::text[]) AND push_host <> ALL($7::text[])
    ORDER BY next_attempt_at LIMIT $8
    FOR UPDATE SKIP LOCKED
), turns AS (
    SELECT id, next_attempt_at,
        row_number() OVER (PARTITION BY user_id ORDER BY next_attempt_at, id)
            AS user_turn,
        row_number() OVER (PARTITION BY push_host ORDER BY next_attempt_at, id)
            AS host_turn,
        COALESCE(($9::jsonb ->> user_id)::bigint, $11) AS user_room,
        COALESCE(($10::jsonb ->> push_host)::bigint, $12) AS host_room
    FROM candidates
), due AS (
    SELECT id FROM turns
    WHERE user_turn <= user_room AND host_turn <= host_room
    ORDER BY user_turn, next_attempt_at, id LIMIT $2
), claimed AS (
    UPDATE deliveries SET leased_until = $3 FROM due WHERE deliveries.id = due.id
    RETURNING deliveries.id, deliveries.attempts, deliveries.subscription_id,
              deliveries.notification_id, deliveries.kind, deliveries.created_at,
              deliveries.user_id, deliveries.push_host
)
SELECT c.id, c.attempts, c.subscription_id, s.endpoint, s.p256dh, s.auth,
       COALESCE(n.id, ''), COALESCE(n.resource, ''), COALESCE(n.priority, 'Low'),
       n.app_notification_id, COALESCE(n.expires_at, c.created_at + $4),
       c.kind = $15::text, s.user_id, pending.changes,
       COALESCE((SELECT sum(f.unread)::bigint FROM feed_counts f
                 WHERE f.user_id = s.user_id), 0)
       - (SELECT count(*) FROM notifications u WHERE u.user_id = s.user_id
            AND u.expires_at <= $1 AND u.read_state = $13::text
            AND u.user_action_state <> $14::text),
       c.user_id, c.push_host
FROM claimed c
LEFT JOIN subscriptions s ON s.id = c.subscription_id
LEFT JOIN notifications n ON n.id = c.notification_id
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_array(x.seq, x.notification_id, x.read_state,
               x.user_action_state, x.deleted, x.group_name)
               ORDER BY x.seq DESC)::text AS changes
    FROM (SELECT * FROM changes WHERE user_id = s.user_id AND seq > s.changes_seq
          ORDER BY seq DESC LIMIT $5) x
) pending ON true
WHERE (c.kind = $15::text OR n.id IS NOT NULL)
  AND (SELECT set_config('synchronous_commit', 'off', true)) = 'off'
