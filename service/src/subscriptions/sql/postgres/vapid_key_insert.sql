INSERT INTO vapid_key (id, private_key, public_key, created_at)
VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING
