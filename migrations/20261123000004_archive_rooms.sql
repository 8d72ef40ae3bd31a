-- Archive rows carry a number for their (bridge, user, room) instead of the
-- three strings: a message seen by K users is K rows, and those strings were
-- most of each row and of its index entry.
CREATE TABLE archive_rooms (
    id BIGINT PRIMARY KEY,
    bridge TEXT NOT NULL,
    user_jid TEXT NOT NULL,
    room TEXT NOT NULL,
    UNIQUE (bridge, user_jid, room)
);

CREATE TABLE archive_rows (
    room_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    nick TEXT NOT NULL,
    body TEXT NOT NULL,
    action BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq)
);

INSERT INTO archive_rooms (id, bridge, user_jid, room)
SELECT ROW_NUMBER() OVER (ORDER BY bridge, user_jid, room), bridge, user_jid, room
FROM (SELECT DISTINCT bridge, user_jid, room FROM archive) AS rooms;

INSERT INTO archive_rows (room_id, seq, nick, body, action)
SELECT m.id, a.seq, a.nick, a.body, a.action
FROM archive a
JOIN archive_rooms m ON m.bridge = a.bridge AND m.user_jid = a.user_jid AND m.room = a.room;

DROP TABLE archive;
