-- GoTrue's password sign-in, POST /token?grant_type=password with an email, legacy refresh
-- tokens (internal/api/token.go ResourceOwnerPasswordGrant, tokens.Service.IssueRefreshToken,
-- models.GrantAuthenticatedUser). The harness seeds users user1..user<nusers-1>@bench.local
-- and defines :nusers. New ids (session, audit rows) are made by gen_random_uuid() where GoTrue
-- makes them in Go; the session's id comes back by RETURNING (GoTrue knows it already).
\set i random(1, :nusers - 1)
\set newtok random(200000000000, 999999999999)

-- Outside any transaction: models.FindUserByEmailAndAudience, pop's eager loading.
SELECT * FROM users
WHERE instance_id = '00000000-0000-0000-0000-000000000000' AND LOWER(email) = 'user' || :i || '@bench.local'
  AND aud = 'authenticated' AND is_sso_user = false
LIMIT 1 \gset u_
SELECT * FROM mfa_factors WHERE user_id = :u_id;
SELECT * FROM identities WHERE user_id = :u_id;
-- (the password is verified in Go: no statement)

BEGIN;
-- NewAuditLogEntry(login).
INSERT INTO audit_log_entries (instance_id, id, payload, created_at, ip_address)
VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(),
        '{"action":"login","actor_id":"4b2f4a0e-6f59-4d3b-9a8e-0d6f0c1f2a3b","actor_username":"user1234@bench.local","actor_via_sso": false,"log_type":"account","traits":{"provider":"email"}}',
        now(), '');
-- IssueRefreshToken -> GrantAuthenticatedUser -> createRefreshToken: the session (pop's Create
-- writes every column of the struct) ...
INSERT INTO sessions (id, user_id, not_after, created_at, updated_at, factor_id, aal, refreshed_at, user_agent, ip,
                      tag, oauth_client_id, scopes, refresh_token_hmac_key, refresh_token_counter)
VALUES (gen_random_uuid(), :u_id, NULL, now(), now(), NULL, 'aal1', NULL, 'pytrue-dbcost/1.0', '127.0.0.1',
        NULL, NULL, NULL, NULL, NULL)
RETURNING id \gset s_
-- ... the refresh token (int-keyed: RETURNING id) ...
INSERT INTO refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
VALUES ('00000000-0000-0000-0000-000000000000', :newtok, :u_id, false, now(), now(), NULL, :s_id)
RETURNING id;
-- ... and user.UpdateLastSignInAt.
UPDATE users SET last_sign_in_at = now(), updated_at = now() WHERE id = :u_id;
-- models.AddClaimToSession(password).
INSERT INTO mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
VALUES (gen_random_uuid(), :s_id, now(), now(), 'password')
ON CONFLICT ON CONSTRAINT mfa_amr_claims_session_id_authentication_method_pkey DO UPDATE SET updated_at = now();
-- GenerateAccessToken: FindSessionByID(tx, forUpdate=false), eager amr claims.
SELECT * FROM sessions WHERE id = :s_id LIMIT 1;
SELECT * FROM mfa_amr_claims WHERE session_id = :s_id;
COMMIT;
