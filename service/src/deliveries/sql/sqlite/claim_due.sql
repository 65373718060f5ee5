WITH candidates AS (
    SELECT id, user_id, push_host, next_attempt_at FROM deliveries
    WHERE state IN ('queued', 'retrying') AND next_attempt_at <= ?1
      AND id NOT IN (SELECT value FROM json_each(?3))
      AND user_id NOT IN (SELECT value FROM json_each(?4))
      AND push_host NOT IN (SELECT value FROM json_each(?5))
    ORDER BY next_attempt_at LIMIT ?6
), turns AS (
    SELECT id, next_attempt_at,
        row_number() OVER (PARTITION BY user_id ORDER BY next_attempt_at, id)
            AS user_turn,
        row_number() OVER (PARTITION BY push_host ORDER BY next_attempt_at, id)
            AS host_turn,
        COALESCE((SELECT value FROM json_each(?7) WHERE key = user_id), ?9)
            AS user_room,
        COALESCE((SELECT value FROM json_each(?8) WHERE key = push_host), ?10)
            AS host_room
    FROM candidates
), chosen AS (
    SELECT id, user_turn, next_attempt_at FROM turns
    WHERE user_turn <= user_room AND host_turn <= host_room
    ORDER BY user_turn, next_attempt_at, id LIMIT ?2
)
SELECT d.id, d.attempts, s.id, s.endpoint, s.p256dh, s.auth, COALESCE(n.id, ''),
    COALESCE(n.resource, ''), COALESCE(n.priority, 'Low'), n.app_notification_id,
    COALESCE(n.expires_at, d.created_at + ?11), d.kind = ?15, s.user_id,
    (SELECT json_group_array(json_array(x.seq, x.notification_id, x.read_state,
            x.user_action_state, x.deleted, x.group_name))
     FROM (SELECT * FROM changes c WHERE c.user_id = s.user_id
           AND c.seq > s.changes_seq ORDER BY c.seq DESC LIMIT ?12) x),
    COALESCE((SELECT SUM(f.unread) FROM feed_counts f WHERE f.user_id = s.user_id), 0)
    - (SELECT COUNT(*) FROM notifications u WHERE u.user_id = s.user_id
         AND u.expires_at <= ?1 AND u.read_state = ?13
         AND u.user_action_state <> ?14),
    d.user_id, d.push_host
FROM chosen c
JOIN deliveries d ON d.id = c.id
JOIN subscriptions s ON s.id = d.subscription_id
LEFT JOIN notifications n ON n.id = d.notification_id
ORDER BY c.user_turn, c.next_attempt_at, c.id
