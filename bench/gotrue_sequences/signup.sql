-- GoTrue's POST /signup with an email and password, GOTRUE_MAILER_AUTOCONFIRM=true, legacy
-- refresh tokens (internal/api/signup.go Signup, signupNewUser; models.IsDuplicatedEmail,
-- User.Confirm, User.RemoveUnconfirmedIdentities; tokens.Service.IssueRefreshToken). Two
-- transactions, as GoTrue commits the new user before issuing its session. New ids by
-- gen_random_uuid() where GoTrue makes them in Go (RETURNING hands them to later statements).
\set r random(1, 999999999999)
\set newtok random(200000000000, 999999999999)

-- Outside any transaction: IsDuplicatedEmail, identities by email (eager; none found) ...
SELECT * FROM identities WHERE email = 'signup' || :r || '@bench.local';
-- ... and the final check on users (FindUserByEmailAndAudience; none found, so no eager loads).
SELECT * FROM users
WHERE instance_id = '00000000-0000-0000-0000-000000000000' AND LOWER(email) = 'signup' || :r || '@bench.local'
  AND aud = 'authenticated' AND is_sso_user = false
LIMIT 1;

BEGIN;
-- signupNewUser: tx.Create(user), every column of the struct (bcrypt hash, GoTrue's default) ...
INSERT INTO users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, invited_at,
                   confirmation_token, confirmation_sent_at, recovery_token, recovery_sent_at, email_change_token_new,
                   email_change, email_change_sent_at, last_sign_in_at, raw_app_meta_data, raw_user_meta_data,
                   is_super_admin, created_at, updated_at, phone, phone_confirmed_at, phone_change, phone_change_token,
                   phone_change_sent_at, email_change_token_current, email_change_confirm_status, banned_until,
                   reauthentication_token, reauthentication_sent_at, is_sso_user, deleted_at, is_anonymous)
VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', '', 'signup' || :r || '@bench.local',
        '$2a$10$0123456789012345678901u0123456789012345678901234567890', NULL, NULL,
        '', NULL, '', NULL, '', '', NULL, NULL, '{"provider":"email","providers":["email"]}', '{}',
        NULL, now(), now(), NULL, NULL, '', '', NULL, '', 0, NULL, '', NULL, false, NULL, false)
RETURNING id \gset nu_
-- ... user.SetRole (UpdateOnly role) ...
UPDATE users SET role = 'authenticated', updated_at = now() WHERE id = :nu_id;
-- ... conn.Reload(user).
SELECT * FROM users WHERE id = :nu_id LIMIT 1;
-- FindIdentityByIdAndProvider (none yet).
SELECT * FROM identities WHERE provider_id = :nu_id AND provider = 'email' LIMIT 1;
-- createNewIdentity.
INSERT INTO identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
VALUES (gen_random_uuid(), :nu_id, :nu_id,
        ('{"sub":"' || :nu_id || '","email":"signup' || :r || '@bench.local","email_verified": false,"phone_verified": false}')::jsonb,
        'email', now(), now(), now());
-- RemoveUnconfirmedIdentities: UpdateUserMetaData(identity data) ...
UPDATE users SET raw_user_meta_data = ('{"sub":"' || :nu_id || '","email":"signup' || :r || '@bench.local","email_verified": false,"phone_verified": false}')::jsonb,
                 updated_at = now()
WHERE id = :nu_id;
-- ... (no other identity to destroy) UpdateAppMetaDataProviders: FindProvidersByUser, UpdateAppMetaData.
SELECT provider FROM identities WHERE user_id = :nu_id ORDER BY created_at ASC;
UPDATE users SET raw_app_meta_data = '{"provider":"email","providers":["email"]}', updated_at = now() WHERE id = :nu_id;
-- NewAuditLogEntry(user_signedup).
INSERT INTO audit_log_entries (instance_id, id, payload, created_at, ip_address)
VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(),
        '{"action":"user_signedup","actor_id":"4b2f4a0e-6f59-4d3b-9a8e-0d6f0c1f2a3b","actor_username":"signup123456789012@bench.local","actor_via_sso": false,"log_type":"team","traits":{"provider":"email"}}',
        now(), '');
-- user.Confirm: confirmation_token + email_confirmed_at, then UpdateUserMetaData(email_verified),
-- then ClearAllOneTimeTokensForUser.
UPDATE users SET confirmation_token = '', email_confirmed_at = now(), updated_at = now() WHERE id = :nu_id;
UPDATE users SET raw_user_meta_data = ('{"sub":"' || :nu_id || '","email":"signup' || :r || '@bench.local","email_verified": true,"phone_verified": false}')::jsonb,
                 updated_at = now()
WHERE id = :nu_id;
DELETE FROM one_time_tokens WHERE user_id = :nu_id;
COMMIT;

-- The confirmed user signs in at once: a second transaction.
BEGIN;
-- NewAuditLogEntry(login).
INSERT INTO audit_log_entries (instance_id, id, payload, created_at, ip_address)
VALUES ('00000000-0000-0000-0000-000000000000', gen_random_uuid(),
        '{"action":"login","actor_id":"4b2f4a0e-6f59-4d3b-9a8e-0d6f0c1f2a3b","actor_username":"signup123456789012@bench.local","actor_via_sso": false,"log_type":"account","traits":{"provider":"email"}}',
        now(), '');
-- IssueRefreshToken -> createRefreshToken: session, refresh token, last_sign_in_at.
INSERT INTO sessions (id, user_id, not_after, created_at, updated_at, factor_id, aal, refreshed_at, user_agent, ip,
                      tag, oauth_client_id, scopes, refresh_token_hmac_key, refresh_token_counter)
VALUES (gen_random_uuid(), :nu_id, NULL, now(), now(), NULL, 'aal1', NULL, 'pytrue-dbcost/1.0', '127.0.0.1',
        NULL, NULL, NULL, NULL, NULL)
RETURNING id \gset s_
INSERT INTO refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
VALUES ('00000000-0000-0000-0000-000000000000', :newtok, :nu_id, false, now(), now(), NULL, :s_id)
RETURNING id;
UPDATE users SET last_sign_in_at = now(), updated_at = now() WHERE id = :nu_id;
-- AddClaimToSession(password).
INSERT INTO mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
VALUES (gen_random_uuid(), :s_id, now(), now(), 'password')
ON CONFLICT ON CONSTRAINT mfa_amr_claims_session_id_authentication_method_pkey DO UPDATE SET updated_at = now();
-- GenerateAccessToken: FindSessionByID(tx, forUpdate=false), eager amr claims.
SELECT * FROM sessions WHERE id = :s_id LIMIT 1;
SELECT * FROM mfa_amr_claims WHERE session_id = :s_id;
COMMIT;
