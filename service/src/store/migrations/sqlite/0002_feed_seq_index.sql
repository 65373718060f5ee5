-- MAX(seq) on every post scanned the whole table without an index that starts with seq.
CREATE INDEX notifications_seq ON notifications (seq);
