-- GoTrue's refresh of a v2 refresh token (GOTRUE_SECURITY_REFRESH_TOKEN_ALGORITHM_VERSION=2),
-- normal path: the token's counter equals the session's (internal/tokens/service.go
-- RefreshTokenGrant, models.findUserWithRefreshToken). No refresh_tokens row is read or
-- written. For reference only: the targets compare pytrue's v2 refresh with GoTrue's legacy one.
-- The harness seeds sessions bench-v2-session-<n> with an HMAC key and counter (nv2 of them).
-- The session id comes out of the token in Go; here it is derived from :n once (md5), then
-- carried in a variable.
\set n random(1, :nv2)

-- Outside any transaction: FindSessionByID(forUpdate=false) from the token's session id ...
SELECT * FROM sessions WHERE id = md5('bench-v2-session-' || :n)::uuid LIMIT 1 \gset s_
SELECT * FROM mfa_amr_claims WHERE session_id = :s_id;
-- ... (HMAC checked in Go) then FindUserByID with pop's eager loading.
SELECT * FROM users WHERE instance_id = '00000000-0000-0000-0000-000000000000' AND id = :s_user_id LIMIT 1;
SELECT * FROM mfa_factors WHERE user_id = :s_user_id;
SELECT * FROM identities WHERE user_id = :s_user_id;

BEGIN;
-- findUserWithRefreshToken(forUpdate=true): lock the session, pop's eager re-read, the user.
SELECT * FROM sessions WHERE id = :s_id LIMIT 1 FOR UPDATE SKIP LOCKED;
SELECT * FROM sessions WHERE id = :s_id LIMIT 1;
SELECT * FROM mfa_amr_claims WHERE session_id = :s_id;
SELECT * FROM users WHERE instance_id = '00000000-0000-0000-0000-000000000000' AND id = :s_user_id LIMIT 1;
SELECT * FROM mfa_factors WHERE user_id = :s_user_id;
SELECT * FROM identities WHERE user_id = :s_user_id;
-- session.UpdateOnlyRefreshToken: the counter (+ updated_at).
UPDATE sessions SET refresh_token_counter = refresh_token_counter + 1, updated_at = now() WHERE id = :s_id;
-- NewAuditLogEntry(token_refreshed).
INSERT INTO audit_log_entries (instance_id, id, payload, created_at, ip_address)
VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(),
        '{"action":"token_refreshed","actor_id":"4b2f4a0e-6f59-4d3b-9a8e-0d6f0c1f2a3b","actor_username":"user1234@bench.local","actor_via_sso": false,"log_type":"token"}',
        now(), '');
-- GenerateAccessToken: FindSessionByID(tx, forUpdate=false).
SELECT * FROM sessions WHERE id = :s_id LIMIT 1;
SELECT * FROM mfa_amr_claims WHERE session_id = :s_id;
-- session.UpdateOnlyRefreshInfo.
UPDATE sessions SET refreshed_at = now() AT TIME ZONE 'UTC', user_agent = 'pytrue-dbcost/1.0', ip = '127.0.0.1', updated_at = now()
WHERE id = :s_id;
COMMIT;
