-- GoTrue's refresh of a legacy (12-character) refresh token, normal path: the token is not
-- revoked, rotation on (internal/tokens/service.go RefreshTokenGrant, GoTrue as mirrored).
-- Statements in GoTrue's order, one per statement pop/sqlx send; values come from the rows
-- read, as GoTrue's Go variables do (\gset). The harness seeds sessions bench-session-<n>
-- with one live token 100000000000+n each (ntokens of them) and defines :ntokens.
\set n random(1, :ntokens)
\set tok 100000000000 + :n
\set newtok random(200000000000, 999999999999)

-- Outside any transaction: models.FindUserWithRefreshToken(db, token, forUpdate=false).
-- findUserWithLegacyRefreshToken: the token row (pop First).
SELECT * FROM refresh_tokens WHERE token = :tok LIMIT 1 \gset rt_
-- FindUserByID: the user, then pop's eager loading of its has_many associations.
SELECT * FROM users WHERE instance_id = '00000000-0000-0000-0000-000000000000' AND id = :rt_user_id LIMIT 1 \gset u_
SELECT * FROM mfa_factors WHERE user_id = :u_id;
SELECT * FROM identities WHERE user_id = :u_id;
-- FindSessionByID(forUpdate=false): the session, eager amr claims (CheckValidity needs it).
SELECT * FROM sessions WHERE id = :rt_session_id LIMIT 1;
SELECT * FROM mfa_amr_claims WHERE session_id = :rt_session_id;

-- db.Transaction: the same reads again, now locking.
BEGIN;
-- findUserWithLegacyRefreshToken(forUpdate=true): lock the token row, then re-read it with pop.
SELECT * FROM refresh_tokens WHERE token = :tok LIMIT 1 FOR UPDATE SKIP LOCKED;
SELECT * FROM refresh_tokens WHERE token = :tok LIMIT 1;
-- FindUserByID (eager) inside the transaction.
SELECT * FROM users WHERE instance_id = '00000000-0000-0000-0000-000000000000' AND id = :u_id LIMIT 1;
SELECT * FROM mfa_factors WHERE user_id = :u_id;
SELECT * FROM identities WHERE user_id = :u_id;
-- FindSessionByID(forUpdate=true): lock the session, then pop's eager read.
SELECT * FROM sessions WHERE id = :rt_session_id LIMIT 1 FOR UPDATE SKIP LOCKED;
SELECT * FROM sessions WHERE id = :rt_session_id LIMIT 1;
SELECT * FROM mfa_amr_claims WHERE session_id = :rt_session_id;
-- (token not revoked: FindCurrentlyActiveRefreshToken is only read for a revoked token.)
-- NewAuditLogEntry(token_refreshed).
INSERT INTO audit_log_entries (instance_id, id, payload, created_at, ip_address)
VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(),
        '{"action":"token_refreshed","actor_id":"4b2f4a0e-6f59-4d3b-9a8e-0d6f0c1f2a3b","actor_username":"user1234@bench.local","actor_via_sso": false,"log_type":"token"}',
        now(), '');
-- GrantRefreshTokenSwap: NewAuditLogEntry(token_revoked) ...
INSERT INTO audit_log_entries (instance_id, id, payload, created_at, ip_address)
VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(),
        '{"action":"token_revoked","actor_id":"4b2f4a0e-6f59-4d3b-9a8e-0d6f0c1f2a3b","actor_username":"user1234@bench.local","actor_via_sso": false,"log_type":"token"}',
        now(), '');
-- ... tx.UpdateOnly(token, "revoked") (pop adds updated_at) ...
UPDATE refresh_tokens SET revoked = true, updated_at = now() WHERE id = :rt_id;
-- ... createRefreshToken: the child token (pop's Create of an int-keyed model: RETURNING id) ...
INSERT INTO refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
VALUES ('00000000-0000-0000-0000-000000000000', :newtok, :rt_user_id, false, now(), now(), :tok, :rt_session_id)
RETURNING id;
-- ... and user.UpdateLastSignInAt: last_sign_in_at rewritten with the value GoTrue read (now() here:
-- the same size), updated_at bumped by pop.
UPDATE users SET last_sign_in_at = now(), updated_at = now() WHERE id = :u_id;
-- GenerateAccessToken: FindSessionByID(tx, forUpdate=false) for the AAL/AMR claims.
SELECT * FROM sessions WHERE id = :rt_session_id LIMIT 1;
SELECT * FROM mfa_amr_claims WHERE session_id = :rt_session_id;
-- session.UpdateOnlyRefreshInfo: refreshed_at (UTC), user_agent, ip (+ updated_at).
UPDATE sessions SET refreshed_at = now() AT TIME ZONE 'UTC', user_agent = 'pytrue-dbcost/1.0', ip = '127.0.0.1', updated_at = now()
WHERE id = :rt_session_id;
COMMIT;
