INSERT INTO usernotify_schema (version) VALUES ($1)
