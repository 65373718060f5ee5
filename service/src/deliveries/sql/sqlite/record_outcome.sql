UPDATE deliveries SET state = ?2, attempts = ?3, last_status = ?4, reason = ?5,
    next_attempt_at = COALESCE(?6, next_attempt_at), updated_at = ?7
WHERE id = ?1
