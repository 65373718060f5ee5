CREATE TABLE IF NOT EXISTS usernotify_schema (version INTEGER NOT NULL)
