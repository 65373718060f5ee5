SELECT id, user_id, target_host_name, display_name, created_at,
       endpoint IS NOT NULL
FROM subscriptions WHERE id = ?1
