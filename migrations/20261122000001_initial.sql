-- Portable between SQLite and PostgreSQL: only TEXT and BIGINT cross
-- sqlx's Any driver, so times are unix seconds and maps are JSON text.

CREATE TABLE users (
    jid TEXT NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- One identity per (bridge, user, scope); scope is '' for the bridge JID
-- or a foreign network (an IRC host) for a network JID.
CREATE TABLE registrations (
    bridge TEXT NOT NULL,
    user_jid TEXT NOT NULL REFERENCES users (jid) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    fields TEXT NOT NULL,
    -- base64(nonce || ChaCha20-Poly1305 ciphertext of a JSON map); the
    -- row's bridge, user and scope are the associated data, so a secret
    -- copied to another row does not decrypt.
    secrets TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (bridge, user_jid, scope)
);

-- Contacts a user subscribed to (their roster items on the bridge).
CREATE TABLE contacts (
    bridge TEXT NOT NULL,
    user_jid TEXT NOT NULL REFERENCES users (jid) ON DELETE CASCADE,
    contact TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (bridge, user_jid, contact)
);

-- Whatever a backend keeps per user (watermarks, network state).
CREATE TABLE bridge_state (
    bridge TEXT NOT NULL,
    user_jid TEXT NOT NULL REFERENCES users (jid) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (bridge, user_jid, key)
);
