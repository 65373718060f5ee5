SELECT count(*) FROM subscriptions WHERE endpoint IS NOT NULL
