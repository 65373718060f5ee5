SELECT COALESCE(MAX(seq), 0) + 1 FROM notifications
