SELECT seq FROM change_heads WHERE user_id = ?1
