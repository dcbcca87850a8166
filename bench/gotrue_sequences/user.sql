-- GoTrue's GET /user (internal/api/auth.go requireAuthentication -> maybeLoadUserOrSession,
-- internal/api/user.go UserGet): the user by the JWT's sub and the session by its session_id,
-- each through pop with eager loading, no transaction. The harness seeds sessions
-- bench-session-<n> (nsessions of them) of user ((n-1) mod (nusers-1)) + 1. The ids come from
-- the JWT in Go; here each is derived once from :n (md5).
\set n random(1, :nsessions)
\set u (:n - 1) % (:nusers - 1) + 1

-- models.FindUserByID, eager: the user, its MFA factors, its identities.
SELECT * FROM users WHERE instance_id = '00000000-0000-0000-0000-000000000000' AND id = md5('bench-user-' || :u)::uuid
LIMIT 1 \gset u_
SELECT * FROM mfa_factors WHERE user_id = :u_id;
SELECT * FROM identities WHERE user_id = :u_id;
-- models.FindSessionByID(forUpdate=false), eager: the session and its amr claims.
SELECT * FROM sessions WHERE id = md5('bench-session-' || :n)::uuid LIMIT 1 \gset s_
SELECT * FROM mfa_amr_claims WHERE session_id = :s_id;
