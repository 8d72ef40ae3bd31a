-- Per-user room archives (XEP-0313): each row is a message one user's
-- connection received while in the room. `seq` orders and identifies a
-- row (microseconds since the epoch, made unique by ferry); its decimal
-- form is the archive id clients see as <stanza-id/>.
CREATE TABLE archive (
    bridge TEXT NOT NULL,
    user_jid TEXT NOT NULL,
    room TEXT NOT NULL,
    seq BIGINT NOT NULL,
    nick TEXT NOT NULL,
    body TEXT NOT NULL,
    action BIGINT NOT NULL,
    PRIMARY KEY (bridge, user_jid, room, seq)
);
