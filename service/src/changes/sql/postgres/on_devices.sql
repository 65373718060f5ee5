SELECT d.subscription_id, n.id, n.group_name,
       n.read_state = $5::text AND n.user_action_state <> $6::text,
       n.updated_at, n.expires_at, n.display_until
FROM notifications n
JOIN deliveries d ON d.notification_id = n.id AND d.state = $4::text
JOIN subscriptions s ON s.id = d.subscription_id AND s.endpoint IS NOT NULL
WHERE n.user_id = $1 AND n.group_name = ANY($2)
  AND ($3::text IS NULL OR d.subscription_id = $3)
