"""Card vault: tokenize, envelope-encrypt and dispose of payment card numbers (PCI DSS v4.0.1 3.2-3.7).

Layers: `pan` (card-number rules and masking), `models` (request/response shapes),
`envelope` (AES-256-GCM under KMS data keys), `keyed_hash` (HMAC-SHA-256 for duplicate
detection), `store` (PostgreSQL through psycopg 3), `vault` (the logic the handlers call),
`api` / `detokenize` / `purge` / `migrate` (Lambda entry points), `logs` (masking logger).
"""
