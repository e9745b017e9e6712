-- Dead-letter queue statistics kept as items change (docs/performance.md,
-- "DLQ statistics"). GetDlqStats reads one row per job and error signature
-- here, and the oldest/newest attempt through two indexes, instead of
-- reading every item.

CREATE TABLE dlq_stats (
  job_id          TEXT NOT NULL,
  error_signature TEXT NOT NULL,    -- '' for items without one
  items           INTEGER NOT NULL, -- rows of dlq_items in this group
  eligible        INTEGER NOT NULL, -- ... with reprocess_eligible = 1
  manual_review   INTEGER NOT NULL, -- ... with manual_review_required = 1
  marked          INTEGER NOT NULL, -- ... with reprocess_requested_at set
  PRIMARY KEY (job_id, error_signature)
) WITHOUT ROWID;

INSERT INTO dlq_stats
SELECT job_id, coalesce(error_signature, ''), count(*), coalesce(sum(reprocess_eligible = 1), 0),
       coalesce(sum(manual_review_required = 1), 0), coalesce(sum(reprocess_requested_at IS NOT NULL), 0)
FROM dlq_items GROUP BY 1, 2;

-- min(first_attempt) and max(last_attempt) of a job become one index lookup.
CREATE INDEX dlq_by_first_attempt ON dlq_items (job_id, first_attempt);
CREATE INDEX dlq_by_last_attempt_text ON dlq_items (job_id, last_attempt);

-- One item enters its group.
CREATE TRIGGER dlq_stats_add AFTER INSERT ON dlq_items
BEGIN
  INSERT INTO dlq_stats VALUES (NEW.job_id, coalesce(NEW.error_signature, ''), 1,
                                NEW.reprocess_eligible IS 1, NEW.manual_review_required IS 1,
                                NEW.reprocess_requested_at IS NOT NULL)
  ON CONFLICT (job_id, error_signature) DO UPDATE SET
    items = items + 1, eligible = eligible + excluded.eligible,
    manual_review = manual_review + excluded.manual_review, marked = marked + excluded.marked;
END;

-- INSERT OR REPLACE does not fire delete triggers (recursive_triggers is off):
-- the replaced item leaves its group before the new one enters.
CREATE TRIGGER dlq_stats_replace BEFORE INSERT ON dlq_items
WHEN EXISTS (SELECT 1 FROM dlq_items WHERE job_id = NEW.job_id AND item_id = NEW.item_id)
BEGIN
  UPDATE dlq_stats SET items = items - 1, eligible = eligible - (prev.reprocess_eligible IS 1),
                       manual_review = manual_review - (prev.manual_review_required IS 1),
                       marked = marked - (prev.reprocess_requested_at IS NOT NULL)
  FROM (SELECT * FROM dlq_items WHERE job_id = NEW.job_id AND item_id = NEW.item_id) AS prev
  WHERE dlq_stats.job_id = prev.job_id AND dlq_stats.error_signature = coalesce(prev.error_signature, '');
  DELETE FROM dlq_stats WHERE job_id = NEW.job_id AND items = 0;
END;

CREATE TRIGGER dlq_stats_remove AFTER DELETE ON dlq_items
BEGIN
  UPDATE dlq_stats SET items = items - 1, eligible = eligible - (OLD.reprocess_eligible IS 1),
                       manual_review = manual_review - (OLD.manual_review_required IS 1),
                       marked = marked - (OLD.reprocess_requested_at IS NOT NULL)
  WHERE job_id = OLD.job_id AND error_signature = coalesce(OLD.error_signature, '');
  DELETE FROM dlq_stats
  WHERE job_id = OLD.job_id AND error_signature = coalesce(OLD.error_signature, '') AND items = 0;
END;

-- An update (marking for reprocessing) moves the item out of its old
-- counts and into its new ones.
CREATE TRIGGER dlq_stats_change AFTER UPDATE ON dlq_items
BEGIN
  UPDATE dlq_stats SET items = items - 1, eligible = eligible - (OLD.reprocess_eligible IS 1),
                       manual_review = manual_review - (OLD.manual_review_required IS 1),
                       marked = marked - (OLD.reprocess_requested_at IS NOT NULL)
  WHERE job_id = OLD.job_id AND error_signature = coalesce(OLD.error_signature, '');
  INSERT INTO dlq_stats VALUES (NEW.job_id, coalesce(NEW.error_signature, ''), 1,
                                NEW.reprocess_eligible IS 1, NEW.manual_review_required IS 1,
                                NEW.reprocess_requested_at IS NOT NULL)
  ON CONFLICT (job_id, error_signature) DO UPDATE SET
    items = items + 1, eligible = eligible + excluded.eligible,
    manual_review = manual_review + excluded.manual_review, marked = marked + excluded.marked;
  DELETE FROM dlq_stats
  WHERE job_id = OLD.job_id AND error_signature = coalesce(OLD.error_signature, '') AND items = 0;
END;
