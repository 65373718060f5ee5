INSERT INTO notifications (id, user_id, app_notification_id, resource, priority,
    expires_at, created_at, updated_at, seq, group_name, display_until)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10)
