SELECT pg_notify(channel, payload), set_config('synchronous_commit', 'off', true)
FROM UNNEST($1::text[], $2::text[]) AS n(channel, payload)
