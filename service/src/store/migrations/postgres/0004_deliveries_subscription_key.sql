-- The foreign key from deliveries to subscriptions that the first migration left out, so
-- that both backends hold the same constraints (service/tests/schema.rs compares them):
-- deleting a subscription deletes its deliveries, and no delivery names a subscription that
-- does not exist. Its cost, which the first migration avoided: each post's insert of
-- deliveries locks the user's subscription rows FOR KEY SHARE until it commits (concurrent
-- posts to one user share that lock), and a post racing the deletion of one of the user's
-- subscriptions fails instead of leaving a delivery that is claimed as gone.
DELETE FROM deliveries d
    WHERE NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = d.subscription_id);
ALTER TABLE deliveries ADD CONSTRAINT deliveries_subscription_id_fkey
    FOREIGN KEY (subscription_id) REFERENCES subscriptions (id) ON DELETE CASCADE;
