SELECT COUNT(*) FROM subscriptions WHERE endpoint IS NOT NULL
