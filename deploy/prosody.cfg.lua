-- Add to /etc/prosody/prosody.cfg.lua (or a file in conf.d/): one
-- Component per ferry bridge, secrets matching ferry.toml.
component_ports = { 5347 }
component_interface = "127.0.0.1"

Component "irc.localhost"
    component_secret = "irc-secret"

Component "mail.localhost"
    component_secret = "mail-secret"

-- Files (SPEC §8): ferry uploads contacts' files to the server's HTTP
-- upload service, asking for slots as the bridge JID, and finds it by disco
-- (or set `upload` in ferry.toml). With http_file_share_access unset every
-- local host may upload, the bridges included; if you set it, list them.
-- The daily quota counts per uploader, and a bridge uploads for all its
-- users: raise it.
--
-- Component "upload.localhost" "http_file_share"
--     http_file_share_daily_quota = 10*1024*1024*1024
--     -- http_file_share_access = { "localhost"; "irc.localhost"; "mail.localhost" }

-- Optional: let ferry keep users' rosters itself (XEP-0356): it then adds
-- the bridge JID and contacts with subscription "both" instead of asking
-- with subscription presences. Needs mod_privilege (Debian package
-- prosody-modules), enabled on the users' host and on each Component:
--
-- modules_enabled = { ...; "privilege" }
-- VirtualHost "localhost"
--     privileged_entities = {
--         ["irc.localhost"] = { roster = "both"; message = "outgoing" };
--         ["mail.localhost"] = { roster = "both"; message = "outgoing" };
--     }
-- Component "irc.localhost"
--     modules_enabled = { "privilege" }
-- Component "mail.localhost"
--     modules_enabled = { "privilege" }
