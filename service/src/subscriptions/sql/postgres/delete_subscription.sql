WITH deleted AS (
    DELETE FROM subscriptions WHERE id = $1 AND user_id = $2 RETURNING id
), its_deliveries AS (
    DELETE FROM deliveries WHERE subscription_id IN (SELECT id FROM deleted)
)
SELECT count(*) FROM deleted
