-- The foreign network's id of an archived line (IRCv3 msgid): a line a
-- server replays (its history on join, after a reconnect or a restart) is
-- archived once. Partial: most rows have none, and the index costs the
-- hot insert path nothing for them.
ALTER TABLE archive_rows ADD COLUMN foreign_id TEXT;
CREATE UNIQUE INDEX archive_rows_foreign_id ON archive_rows (room_id, foreign_id)
    WHERE foreign_id IS NOT NULL;
