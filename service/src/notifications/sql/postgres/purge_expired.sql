WITH purged AS (
    DELETE FROM notifications WHERE expires_at <= $1 RETURNING 1
), changes_purged AS (
    DELETE FROM changes WHERE expires_at <= $1
), pushes_purged AS (
    DELETE FROM deliveries WHERE kind = $3::text AND created_at <= $2
)
SELECT count(*) FROM purged
