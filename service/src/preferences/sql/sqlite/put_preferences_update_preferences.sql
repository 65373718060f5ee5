UPDATE preferences SET body = ?2, version = version + 1, updated_at = ?3
WHERE user_id = ?1 AND version = ?4
