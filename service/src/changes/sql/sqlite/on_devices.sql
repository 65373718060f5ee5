SELECT d.subscription_id, n.id, n.group_name,
       n.read_state = ?5 AND n.user_action_state <> ?6,
       n.updated_at, n.expires_at, n.display_until
FROM notifications n
JOIN deliveries d ON d.notification_id = n.id AND d.state = ?4
JOIN subscriptions s ON s.id = d.subscription_id AND s.endpoint IS NOT NULL
WHERE n.user_id = ?1 AND n.group_name IN (SELECT value FROM json_each(?2))
  AND (?3 IS NULL OR d.subscription_id = ?3)
