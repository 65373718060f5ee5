SELECT id, created_at FROM notifications
WHERE user_id = ?1 AND app_notification_id = ?2
