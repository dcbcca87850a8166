import httpx
import pytest
from supabase_auth.errors import AuthApiError

PASSWORD = "a-long-enough-password"


def test_sign_up_confirm_from_the_inbox_then_sign_in(app, pytrue):
    app.sign_up("ada@example.com", PASSWORD, redirect_to="http://notes.test/welcome")
    with pytest.raises(AuthApiError, match="Email not confirmed"):
        app.sign_in("ada@example.com", PASSWORD)

    mail = pytrue.inbox.latest("ada@example.com", "confirmation")
    assert "Confirm" in mail.subject and mail.redirect_to == "http://notes.test/welcome"
    landed = httpx.get(mail.link, follow_redirects=False).headers["location"]
    assert landed.startswith("http://notes.test/welcome#access_token=")

    session = app.sign_in("ada@example.com", PASSWORD)
    assert session.user.email == "ada@example.com"


def test_each_person_sees_only_their_own_notes(app, pytrue):
    ada = pytrue.session_for(pytrue.create_user("ada@example.com", PASSWORD))["access_token"]
    bob = pytrue.session_for(pytrue.create_user("bob@example.com", PASSWORD))["access_token"]
    note = app.add_note(ada, "ada's first note")
    app.add_note(bob, "bob's note")

    assert app.notes(ada) == ["ada's first note"]
    assert app.notes(bob) == ["bob's note"]
    assert app.delete_note(bob, note) is False  # RLS: not bob's to delete
    assert app.delete_note(ada, note) is True


def test_the_previous_test_left_nothing_behind(app, pytrue):
    with pytest.raises(LookupError):
        pytrue.user("ada@example.com")
    ada = pytrue.session_for(pytrue.create_user("ada@example.com", PASSWORD))["access_token"]
    assert app.notes(ada) == []


def test_an_expired_session_is_refused_by_the_auth_server(app, pytrue):
    pytrue.create_user("ada@example.com", PASSWORD)
    session = app.sign_in("ada@example.com", PASSWORD)
    pytrue.advance_clock(3601)  # past GOTRUE_JWT_EXP, without sleeping
    with pytest.raises(AuthApiError):
        app.auth().get_user(session.access_token)
    refreshed = app.auth().refresh_session(session.refresh_token).session
    assert refreshed is not None and app.auth().get_user(refreshed.access_token).user.email == "ada@example.com"


def test_a_magic_link_code_from_the_inbox(app, pytrue):
    pytrue.create_user("ada@example.com", PASSWORD)
    app.auth().sign_in_with_otp({"email": "ada@example.com"})
    code = pytrue.otp_for("ada@example.com")
    session = app.auth().verify_otp({"email": "ada@example.com", "token": code, "type": "email"}).session
    assert session is not None and app.notes(session.access_token) == []
