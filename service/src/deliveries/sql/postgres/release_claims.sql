UPDATE deliveries SET leased_until = 0 WHERE id = ANY($1)
