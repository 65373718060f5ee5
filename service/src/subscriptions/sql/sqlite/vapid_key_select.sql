SELECT private_key, public_key FROM vapid_key WHERE id = 1
