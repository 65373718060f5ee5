INSERT INTO subscriptions (id, user_id, endpoint, p256dh, auth,
    target_host_name, display_name, created_at, updated_at, changes_seq,
    push_host)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8,
    COALESCE((SELECT seq FROM change_heads WHERE user_id = ?2), 0), ?9)
