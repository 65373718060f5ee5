DELETE FROM deliveries WHERE notification_id = ?1
