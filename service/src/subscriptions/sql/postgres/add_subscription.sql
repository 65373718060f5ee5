WITH held AS (
    SELECT count(*) AS n FROM subscriptions
    WHERE user_id = $2 AND endpoint IS NOT NULL AND endpoint <> $3
)
INSERT INTO subscriptions (id, user_id, endpoint, p256dh, auth, target_host_name,
    display_name, created_at, updated_at, changes_seq, push_host)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $8,
    COALESCE((SELECT seq FROM change_heads WHERE user_id = $2), 0), $10
FROM held
WHERE held.n < $9 OR EXISTS (
    SELECT 1 FROM subscriptions WHERE user_id = $2 AND endpoint = $3)
ON CONFLICT (user_id, endpoint) WHERE endpoint IS NOT NULL DO UPDATE SET
    p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth,
    target_host_name = EXCLUDED.target_host_name,
    display_name = EXCLUDED.display_name, updated_at = EXCLUDED.updated_at,
    gone_at = NULL
RETURNING id, created_at
