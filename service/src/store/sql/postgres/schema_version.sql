SELECT version FROM usernotify_schema
