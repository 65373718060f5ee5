UPDATE subscriptions SET p256dh = ?2, auth = ?3, target_host_name = ?4,
display_name = ?5, updated_at = ?6, gone_at = NULL WHERE id = ?1
