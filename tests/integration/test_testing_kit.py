"""pytrue.testing: the in-process server a Supabase app's test suite runs against (issue 14).

Real HTTP on a free port, the official supabase-auth client, the inbox and outbox, the clock,
reset between tests, GoTrue settings as keyword arguments, and the control routes that
`pytrue testserver` serves to other languages."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from supabase_auth import AsyncGoTrueClient, SyncGoTrueClient
from supabase_auth.errors import AuthApiError

from pytrue.testing import AsyncAuthServer, AuthServer, AuthServerError
from pytrue.testing.config import TEST_DEFAULTS, env_name, environment

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def server():
    with AuthServer() as auth:
        yield auth


@pytest.fixture
def auth(server: AuthServer) -> AuthServer:
    server.reset()
    return server


def client(auth: AuthServer) -> SyncGoTrueClient:
    return SyncGoTrueClient(url=auth.url, headers={"apikey": auth.anon_key}, auto_refresh_token=False, persist_session=False)


def api(auth: AuthServer) -> httpx.Client:
    return httpx.Client(base_url=auth.url, headers={"apikey": auth.anon_key}, timeout=10)


# -- the server ------------------------------------------------------------------------------------


def test_the_server_answers_on_its_url_with_keys_signed_by_its_secret(auth: AuthServer) -> None:
    from joserfc import jwt
    from joserfc.jwk import OctKey

    assert auth.url.startswith("http://127.0.0.1:")
    with api(auth) as http:
        assert http.get("/health").status_code == 200
        settings = http.get("/settings").json()
    assert settings["external"]["email"] is True and settings["external"]["phone"] is True
    key = OctKey.import_key(auth.jwt_secret)
    assert jwt.decode(auth.anon_key, key).claims["role"] == "anon"
    assert jwt.decode(auth.service_role_key, key).claims["role"] == "service_role"
    with httpx.Client(base_url=auth.url, headers=auth.headers) as admin:
        assert admin.get("/admin/users").status_code == 200
    with httpx.Client(base_url=auth.url, headers={"Authorization": f"Bearer {auth.anon_key}"}) as anon:
        assert anon.get("/admin/users").status_code == 403


def test_two_servers_run_side_by_side_with_their_own_secrets_and_users() -> None:
    with AuthServer() as one, AuthServer() as two:
        assert one.url != two.url and one.jwt_secret != two.jwt_secret
        one.create_user("only-one@example.com", PASSWORD)
        with pytest.raises(LookupError):
            two.user("only-one@example.com")
        assert one.user("only-one@example.com")["email"] == "only-one@example.com"


def test_a_stopped_server_refuses_helpers_and_frees_its_port() -> None:
    auth = AuthServer()
    auth.start()
    url = auth.url
    auth.stop()
    with pytest.raises(RuntimeError):
        auth.create_user("late@example.com", PASSWORD)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/health", timeout=2)
    auth.stop()  # stopping twice is harmless


def test_a_bad_setting_stops_the_start_naming_the_variable() -> None:
    from pytrue.entrypoints.settings import SettingsError

    with pytest.raises(SettingsError, match="GOTRUE_JWT_EXP"):
        AuthServer(jwt_exp="soon").start()
    with pytest.raises(TypeError, match="GOTRUE_MAILER_AUTOCONFIRM"):
        AuthServer(mailer_autoconfim=True)  # a typo names the closest setting


# -- configuration as keyword arguments -----------------------------------------------------------


def test_keywords_name_gotrue_variables_with_or_without_their_prefix() -> None:
    assert env_name("mailer_autoconfirm") == "GOTRUE_MAILER_AUTOCONFIRM"
    assert env_name("GOTRUE_SITE_URL") == "GOTRUE_SITE_URL"
    assert env_name("api_external_url") == "API_EXTERNAL_URL"
    assert env_name("mailer_delivery") == "PYTRUE_MAILER_DELIVERY"
    env = environment(
        {"mailer_autoconfirm": True, "jwt_exp": 60, "uri_allow_list": ["http://a.test/**", "http://b.test"],
         "smtp_max_frequency": timedelta(seconds=5), "external_phone_enabled": None},
        env={"GOTRUE_SITE_URL": "http://app.test"},
    )
    assert env["GOTRUE_MAILER_AUTOCONFIRM"] == "true"
    assert env["GOTRUE_JWT_EXP"] == "60"
    assert env["GOTRUE_URI_ALLOW_LIST"] == "http://a.test/**,http://b.test"
    assert env["GOTRUE_SMTP_MAX_FREQUENCY"] == "5s"
    assert env["GOTRUE_SITE_URL"] == "http://app.test"
    assert "GOTRUE_EXTERNAL_PHONE_ENABLED" not in env  # None: GoTrue's default again
    assert environment({})["GOTRUE_EXTERNAL_PHONE_ENABLED"] == TEST_DEFAULTS["GOTRUE_EXTERNAL_PHONE_ENABLED"]


def test_settings_given_as_keywords_change_the_servers_behaviour() -> None:
    with AuthServer(mailer_autoconfirm=True, jwt_exp=120, external_anonymous_users_enabled=True, site_url="http://app.test") as auth:
        assert auth.settings.site.site_url == "http://app.test"
        with api(auth) as http:
            signed_up = http.post("/signup", json={"email": "auto@example.com", "password": PASSWORD}).json()
            assert signed_up["expires_in"] == 120 and signed_up["user"]["email_confirmed_at"]
            assert http.post("/signup", json={}).json()["user"]["is_anonymous"] is True


# -- the inbox, codes and links -------------------------------------------------------------------


def test_sign_up_then_confirm_from_the_inbox_link_with_the_official_client(auth: AuthServer) -> None:
    gotrue = client(auth)
    answer = gotrue.sign_up({"email": "Reader@Example.com", "password": PASSWORD})
    assert answer.session is None  # GoTrue's default: the address must be confirmed
    with pytest.raises(AuthApiError, match="Email not confirmed"):
        gotrue.sign_in_with_password({"email": "reader@example.com", "password": PASSWORD})
    mail = auth.inbox.latest("reader@example.com", "confirmation")
    assert mail.subject and mail.token_hash and mail.link.startswith(auth.url + "/verify?")
    assert auth.link_for("READER@example.com") == mail.link
    followed = httpx.get(mail.link, follow_redirects=False)
    assert followed.status_code == 303 and "access_token=" in followed.headers["location"]
    session = gotrue.sign_in_with_password({"email": "reader@example.com", "password": PASSWORD}).session
    assert session is not None and session.user.email_confirmed_at is not None


def test_otp_for_an_email_verifies_with_the_client(auth: AuthServer) -> None:
    auth.create_user("otp@example.com", PASSWORD)
    gotrue = client(auth)
    gotrue.sign_in_with_otp({"email": "otp@example.com"})
    code = auth.otp_for("otp@example.com")
    assert len(code) == 6 and code.isdigit()
    session = gotrue.verify_otp({"email": "otp@example.com", "token": code, "type": "email"}).session
    assert session is not None and session.user.email == "otp@example.com"


def test_otp_for_a_phone_reads_the_outbox(auth: AuthServer) -> None:
    gotrue = client(auth)
    gotrue.sign_in_with_otp({"phone": "+15550001111"})
    sms = auth.outbox.latest("15550001111")
    assert sms.otp and sms.otp in sms.message
    assert auth.otp_for("+15550001111") == sms.otp
    session = gotrue.verify_otp({"phone": "+15550001111", "token": sms.otp, "type": "sms"}).session
    assert session is not None and session.user.phone == "15550001111"


def test_recovery_and_the_inbox_by_kind(auth: AuthServer) -> None:
    auth.create_user("forgot@example.com", PASSWORD)
    client(auth).reset_password_for_email("forgot@example.com")
    assert [mail.kind for mail in auth.inbox.all("forgot@example.com")] == ["recovery"]
    assert auth.inbox.latest("forgot@example.com", "recovery").otp
    with pytest.raises(LookupError, match="no magic_link email was sent to forgot@example.com"):
        auth.inbox.latest("forgot@example.com", "magic_link")
    with pytest.raises(LookupError):
        auth.otp_for("nobody@example.com")
    with pytest.raises(LookupError):
        auth.outbox.latest("+15559999999")


# -- users and sessions ---------------------------------------------------------------------------


def test_create_user_makes_a_confirmed_user_who_can_sign_in(auth: AuthServer) -> None:
    user = auth.create_user("made@example.com", PASSWORD, user_metadata={"name": "Made"}, app_metadata={"plan": "pro"})
    assert user["email_confirmed_at"] and user["user_metadata"]["name"] == "Made" and user["app_metadata"]["plan"] == "pro"
    session = client(auth).sign_in_with_password({"email": "made@example.com", "password": PASSWORD}).session
    assert session is not None and session.user.id == user["id"]
    phone_user = auth.create_user(phone="+15550002222", password=PASSWORD)
    assert phone_user["phone_confirmed_at"]
    pending = auth.create_user("pending@example.com", PASSWORD, confirmed=False)
    assert pending.get("email_confirmed_at") is None
    auth.confirm("pending@example.com")
    assert auth.user("pending@example.com")["email_confirmed_at"]


def test_create_user_reports_gotrues_refusal(auth: AuthServer) -> None:
    auth.create_user("twice@example.com", PASSWORD)
    with pytest.raises(AuthServerError) as refused:
        auth.create_user("twice@example.com", PASSWORD)
    assert refused.value.status == 422 and refused.value.code == "email_exists"
    with pytest.raises(LookupError):
        auth.confirm("nobody@example.com")


def test_session_for_gives_a_real_pair_that_reads_and_rotates(auth: AuthServer) -> None:
    user = auth.create_user("session@example.com")  # no password: sessions need none
    session = auth.session_for(user)
    assert session["user"]["id"] == user["id"] and session["token_type"] == "bearer"
    gotrue = client(auth)
    assert gotrue.get_user(session["access_token"]).user.id == user["id"]
    refreshed = gotrue.refresh_session(session["refresh_token"]).session
    assert refreshed is not None and refreshed.refresh_token != session["refresh_token"]
    assert auth.session_for("session@example.com")["user"]["id"] == user["id"]
    with pytest.raises(LookupError):
        auth.session_for("00000000-0000-4000-8000-000000000000")


def test_session_for_refuses_a_banned_user(auth: AuthServer) -> None:
    from pytrue.domain.errors import DomainError

    user = auth.create_user("banned@example.com", PASSWORD, ban_duration="24h")
    with pytest.raises(DomainError, match="banned"):
        auth.session_for(user)


# -- the clock --------------------------------------------------------------------------------------


def test_advance_clock_expires_codes_and_access_tokens_without_sleeping(auth: AuthServer) -> None:
    auth.create_user("clock@example.com", PASSWORD)
    gotrue = client(auth)
    session = auth.session_for("clock@example.com")
    gotrue.sign_in_with_otp({"email": "clock@example.com"})
    code = auth.otp_for("clock@example.com")
    auth.advance_clock(auth.settings.jwt.exp + 1)
    with pytest.raises(AuthApiError) as expired_jwt:
        gotrue.get_user(session["access_token"])
    assert expired_jwt.value.code == "bad_jwt"
    auth.advance_clock(auth.settings.mailer.otp_exp.total_seconds())  # GOTRUE_MAILER_OTP_EXP: a day
    with pytest.raises(AuthApiError) as expired_code:
        gotrue.verify_otp({"email": "clock@example.com", "token": code, "type": "email"})
    assert expired_code.value.code == "otp_expired"
    with pytest.raises(ValueError):
        auth.advance_clock(-1)


# -- reset ------------------------------------------------------------------------------------------


def test_reset_forgets_users_sessions_mail_rate_limits_and_the_clock() -> None:
    with AuthServer(rate_limit_otp=1) as auth:
        auth.create_user("kept@example.com", PASSWORD)
        session = auth.session_for("kept@example.com")
        with api(auth) as http:
            assert http.post("/otp", json={"email": "kept@example.com"}).status_code == 200
            assert http.post("/otp", json={"email": "kept@example.com"}).status_code == 429
        auth.advance_clock(30)
        before = auth.settings  # the configuration survives a reset
        auth.reset()
        assert len(auth.inbox) == 0 and len(auth.outbox) == 0
        with pytest.raises(LookupError):
            auth.user("kept@example.com")
        assert auth.container.core.clock().offset == timedelta()
        with api(auth) as http:
            assert http.post("/token?grant_type=refresh_token", json={"refresh_token": session["refresh_token"]}).status_code == 400
            assert http.post("/otp", json={"email": "kept@example.com"}).status_code == 200  # the limit starts afresh
        assert auth.settings is before


# -- asynchronous suites ----------------------------------------------------------------------------


async def test_the_async_server_serves_on_the_running_loop_with_async_helpers() -> None:
    async with AsyncAuthServer() as auth:
        gotrue = AsyncGoTrueClient(url=auth.url, headers={"apikey": auth.anon_key}, auto_refresh_token=False, persist_session=False)
        await gotrue.sign_up({"email": "async@example.com", "password": PASSWORD})
        await auth.confirm("async@example.com")
        session = (await gotrue.sign_in_with_password({"email": "async@example.com", "password": PASSWORD})).session
        assert session is not None
        made = await auth.create_user("async-made@example.com", PASSWORD)
        pair = await auth.session_for(made)
        assert (await gotrue.get_user(pair["access_token"])).user.email == "async-made@example.com"
        await auth.reset()
        with pytest.raises(LookupError):
            await auth.user("async@example.com")
    assert auth._task is None


async def test_the_thread_server_serves_an_async_suite_too(server: AuthServer) -> None:
    server.reset()
    gotrue = AsyncGoTrueClient(url=server.url, headers={"apikey": server.anon_key}, auto_refresh_token=False, persist_session=False)
    server.create_user("both@example.com", PASSWORD)
    answers = await asyncio.gather(
        *(gotrue.sign_in_with_password({"email": "both@example.com", "password": PASSWORD}) for _ in range(5))
    )
    assert len({answer.session.refresh_token for answer in answers if answer.session}) == 5


# -- the control routes (pytrue testserver) -------------------------------------------------------


def test_control_routes_need_the_service_role_key_and_do_what_the_helpers_do() -> None:
    with AuthServer(control=True) as auth:
        base = auth.url + "/__pytrue"
        assert httpx.post(base + "/reset").status_code == 401
        assert httpx.post(base + "/reset", headers={"Authorization": f"Bearer {auth.anon_key}"}).status_code == 401
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {auth.service_role_key}"}) as control:
            user = control.post("/users", json={"email": "ctl@example.com", "password": PASSWORD}).json()
            assert user["email_confirmed_at"]
            assert control.post("/users", json={"email": "ctl@example.com"}).json()["error_code"] == "email_exists"
            assert control.post("/users", json={"mail": "x"}).status_code == 400
            with api(auth) as http:
                http.post("/otp", json={"email": "ctl@example.com"})
            assert control.get("/otp", params={"to": "ctl@example.com"}).json()["otp"] == auth.otp_for("ctl@example.com")
            inbox = control.get("/inbox", params={"to": "ctl@example.com"}).json()
            assert [mail["kind"] for mail in inbox] == ["magic_link"]
            assert control.get("/inbox/latest", params={"to": "ctl@example.com", "kind": "magic_link"}).json()["otp"]
            assert control.get("/inbox/latest", params={"to": "nobody@example.com"}).status_code == 404
            assert control.get("/otp").status_code == 400
            session = control.post("/session", json={"email": "ctl@example.com"}).json()
            assert session["user"]["id"] == user["id"]
            assert control.post("/session", json={"user_id": "not-a-uuid"}).status_code == 400
            assert control.post("/session", json={}).status_code == 400
            assert control.post("/clock", json={"seconds": -5}).status_code == 400
            assert control.post("/clock", json={"seconds": "5"}).status_code == 400
            assert control.post("/clock", json={"seconds": 7200}).json() == {"advanced": 7200}
            with api(auth) as http:
                assert http.get("/user", headers={"Authorization": f"Bearer {session['access_token']}"}).status_code == 403
            assert control.post("/confirm", json={"email": "nobody@example.com"}).status_code == 404
            assert control.post("/reset", content=b"[1]").status_code == 400
            assert control.post("/reset", content=b"{not json").status_code == 400
            assert control.post("/reset").json() == {"reset": True}
            assert control.get("/inbox").json() == []
            assert control.get("/nowhere").status_code == 404


def test_the_plain_server_has_no_control_routes(auth: AuthServer) -> None:
    answer = httpx.post(auth.url + "/__pytrue/reset", headers={"Authorization": f"Bearer {auth.service_role_key}"})
    assert answer.status_code == 404


# -- PostgreSQL -------------------------------------------------------------------------------------


def test_on_postgres_the_embedded_cluster_runs_rls_policies_against_auth_uid() -> None:
    import psycopg

    from pytrue.testing.rls import act_as

    with AuthServer(storage="postgres") as auth:
        with psycopg.connect(auth.superuser_dsn, autocommit=True) as conn:
            conn.execute(
                "create table public.notes (id serial primary key, owner uuid not null references auth.users(id) default auth.uid(), body text);"
                "alter table public.notes enable row level security;"
                "create policy own_notes on public.notes for all to authenticated using (owner = auth.uid()) with check (owner = auth.uid());"
                "grant usage on schema public to authenticated, anon; grant all on public.notes to authenticated;"
                "grant usage on sequence public.notes_id_seq to authenticated;"
            )
        alice = auth.session_for(auth.create_user("alice@example.com", PASSWORD))
        bob = auth.session_for(auth.create_user("bob@example.com", PASSWORD))
        with psycopg.connect(auth.superuser_dsn) as conn:
            act_as(conn, alice["access_token"])
            conn.execute("insert into public.notes (body) values ('alice''s')")
            assert conn.execute("select auth.uid()::text, auth.role(), auth.email()").fetchone() == (
                alice["user"]["id"], "authenticated", "alice@example.com"
            )
        with psycopg.connect(auth.superuser_dsn) as conn:
            act_as(conn, bob["access_token"])
            assert conn.execute("select count(*) from public.notes").fetchone() == (0,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("insert into public.notes (owner, body) values (%s, 'forged')", [alice["user"]["id"]])
        with psycopg.connect(auth.superuser_dsn) as conn:
            act_as(conn, alice["access_token"])
            assert conn.execute("select body from public.notes").fetchall() == [("alice's",)]
        auth.reset()  # the auth tables, and through CASCADE the notes that referenced them
        with psycopg.connect(auth.dsn) as conn:
            assert conn.execute("select count(*) from auth.users").fetchone() == (0,)
            assert conn.execute("select count(*) from auth.schema_migrations").fetchone()[0] > 0
        with psycopg.connect(auth.superuser_dsn) as conn:
            assert conn.execute("select count(*) from public.notes").fetchone() == (0,)
        client(auth).sign_up({"email": "again@example.com", "password": PASSWORD})
        assert auth.inbox.latest("again@example.com", "confirmation").token_hash


def test_on_postgres_a_given_database_is_migrated_and_used(pg_databases) -> None:
    import psycopg

    database = pg_databases.create(migrated=False)
    try:
        with AuthServer(storage="postgres", dsn=database.dsn) as auth:
            with pytest.raises(RuntimeError):
                auth.superuser_dsn  # noqa: B018 - the cluster is the caller's
            auth.create_user("pg@example.com", PASSWORD)
            with psycopg.connect(database.dsn) as conn:
                assert conn.execute("select email from auth.users").fetchall() == [("pg@example.com",)]
            session = client(auth).sign_in_with_password({"email": "pg@example.com", "password": PASSWORD}).session
            assert session is not None
            auth.reset()
            with psycopg.connect(database.dsn) as conn:
                assert conn.execute("select count(*) from auth.refresh_tokens").fetchone() == (0,)
    finally:
        pg_databases.drop(database)


def test_localised_templates_reach_the_inbox(tmp_path) -> None:
    french = tmp_path / "fr"
    french.mkdir()
    (french / "subjects.json").write_text('{"confirmation": "Confirmez votre adresse"}')
    (french / "confirmation.html").write_text('<p>Bonjour, confirmez : <a href="{{ .ConfirmationURL }}">ici</a></p>')
    with AuthServer(mailer_localized_templates=str(tmp_path)) as auth:
        gotrue = client(auth)
        gotrue.sign_up({"email": "fr@example.com", "password": PASSWORD, "options": {"data": {"locale": "fr_CA"}}})
        gotrue.sign_up({"email": "en@example.com", "password": PASSWORD})
        french_mail = auth.inbox.latest("fr@example.com", "confirmation")
        assert (french_mail.subject, french_mail.locale) == ("Confirmez votre adresse", "fr")
        assert "Bonjour" in french_mail.html and french_mail.link.startswith(auth.url + "/verify?")
        default_mail = auth.inbox.latest("en@example.com", "confirmation")
        assert default_mail.locale == "" and default_mail.subject == "Confirm your email address"
