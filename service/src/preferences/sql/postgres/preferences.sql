SELECT body, version FROM preferences WHERE user_id = $1
