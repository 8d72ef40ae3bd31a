-- Files a user sent that a backend still has to hand on (a mail's
-- attachment): committed with the message, before anything is sent, and
-- deleted once the backend is done with them. The bytes are kept in chunks
-- so that neither the download nor the store holds a whole file at once.
CREATE TABLE files (
    id BIGINT NOT NULL PRIMARY KEY,
    bridge TEXT NOT NULL,
    user_jid TEXT NOT NULL REFERENCES users (jid) ON DELETE CASCADE,
    size BIGINT NOT NULL,
    complete BIGINT NOT NULL,
    created BIGINT NOT NULL
);

CREATE INDEX files_owner ON files (bridge, user_jid);

CREATE TABLE file_chunks (
    file_id BIGINT NOT NULL REFERENCES files (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (file_id, seq)
);
