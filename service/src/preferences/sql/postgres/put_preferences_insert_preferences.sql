INSERT INTO preferences (user_id, body, version, updated_at)
VALUES ($1, $2, 1, $3) ON CONFLICT (user_id) DO NOTHING
