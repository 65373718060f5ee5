SELECT max(version) FROM usernotify_schema
