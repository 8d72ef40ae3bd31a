-- Add to /etc/prosody/prosody.cfg.lua (or a file in conf.d/): one
-- Component per ferry bridge, secrets matching ferry.toml.
component_ports = { 5347 }
component_interface = "127.0.0.1"

Component "irc.localhost"
    component_secret = "irc-secret"

Component "mail.localhost"
    component_secret = "mail-secret"
