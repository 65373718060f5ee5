DELETE FROM deliveries WHERE kind = 'changes' AND created_at <= ?1
