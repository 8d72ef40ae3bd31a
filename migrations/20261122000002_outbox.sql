-- A backend's durable outbox (mail first): an item is committed here
-- before anything is sent and deleted once the foreign server took it.
-- Ids are random 63-bit integers made by ferry (auto-increment has no
-- portable spelling); order comes from created_us.
CREATE TABLE outbox (
    id BIGINT NOT NULL PRIMARY KEY,
    bridge TEXT NOT NULL,
    user_jid TEXT NOT NULL REFERENCES users (jid) ON DELETE CASCADE,
    payload TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    not_before BIGINT NOT NULL,
    created_us BIGINT NOT NULL
);

CREATE INDEX outbox_due ON outbox (bridge, user_jid, not_before);
