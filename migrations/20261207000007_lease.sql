-- The lease (SPEC §5): on PostgreSQL, the one row says which ferry process
-- speaks for the bridges, until when (the database's clock, milliseconds),
-- and in which epoch; a new holder raises the epoch, and writes only the
-- holder may make check it (fencing).
CREATE TABLE lease (
    name TEXT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
