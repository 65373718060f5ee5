DELETE FROM changes WHERE expires_at <= ?1
