// pald.yaml texts shared by the config unit tests and the config fuzz target (its seeds).

/** Every section of pald.yaml set, with relative paths (they resolve next to the file). */
export const FULL_CONFIG = `mountpoint: /run/pal2
manifest: secrets.yaml
keys: /etc/pal/k
key_passphrase_file: pass
trust:
  mode: none
  notary:
    server: https://127.0.0.1:4443
    ca: ca.pem
    timeout_ms: 2000
    collections:
      - gun: registry.example.com/billing/*
        root_keys: [abc123, def456]
        root_threshold: 2
        grants: [billing, production-team-secret]
        delegations:
          targets/releases: [billing]
redoctober:
  server: https://127.0.0.1:8080
  user: h
admin:
  socket: /tmp/admin.sock
audit:
  path: "-"
host:
  allow_uids: [0, 1000]
cache:
  plaintext_ttl_ms: 1000
  plaintext_max_bytes: 4096
limits:
  open_handles_per_container: 16
  locked_bytes: 1048576
  secret_bytes: 65536
state_dir: state
`;
