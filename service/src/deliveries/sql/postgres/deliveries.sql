SELECT d.subscription_id, d.state, d.attempts, d.last_status, d.reason,
       d.next_attempt_at, d.updated_at
FROM notifications n LEFT JOIN deliveries d ON d.notification_id = n.id
WHERE n.id = $1 AND n.user_id = $2 AND n.expires_at > $3
ORDER BY d.subscription_id
