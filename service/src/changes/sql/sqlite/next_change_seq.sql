INSERT INTO change_heads (user_id, seq) VALUES (?1, 1)
ON CONFLICT (user_id) DO UPDATE SET seq = seq + 1 RETURNING seq
