DELETE FROM changes WHERE user_id = ?1 AND notification_id = ?2
