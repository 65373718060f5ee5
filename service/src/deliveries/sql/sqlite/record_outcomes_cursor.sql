UPDATE subscriptions SET changes_seq = MAX(changes_seq, ?2) WHERE id = ?1
