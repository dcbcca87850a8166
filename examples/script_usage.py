"""Use pytrue's use cases from a plain script: sign a user up, sign in, refresh, ban.

Runs on the in-memory adapters; set GOTRUE_DB_DRIVER=postgres and DATABASE_URL to use a database.
"""

from __future__ import annotations

import asyncio
import os

from pytrue.application.use_cases.refresh import RefreshTokenCommand
from pytrue.application.use_cases.signin import SignInWithPasswordCommand
from pytrue.application.use_cases.signup import SignUpCommand
from pytrue.domain.errors import DomainError
from pytrue.entrypoints import containers
from pytrue.entrypoints.settings import load_settings


async def main() -> dict[str, object]:
    env = {
        "GOTRUE_SITE_URL": "http://localhost:3000",
        "API_EXTERNAL_URL": "http://localhost:9999",
        "GOTRUE_JWT_SECRET": "an-example-secret-of-at-least-32-characters",
        "GOTRUE_JWT_AUD": "authenticated",
        "GOTRUE_JWT_DEFAULT_GROUP_NAME": "authenticated",
        "GOTRUE_DB_DRIVER": "memory",
        "GOTRUE_MAILER_AUTOCONFIRM": "true",
        **os.environ,
    }
    settings = load_settings(env, env_file=None)
    container = containers.build_container(settings)
    await containers.start(container)
    use_cases = container.use_cases
    try:
        signed_up = await use_cases.sign_up()(SignUpCommand(email="script@example.com", password="a-good-password"))
        session = await use_cases.sign_in_with_password()(
            SignInWithPasswordCommand(email="script@example.com", password="a-good-password")
        )
        refreshed = await use_cases.refresh_token_grant()(RefreshTokenCommand(refresh_token=session.refresh_token))
        await use_cases.ban_user()(signed_up.user.id, "24h", admin_role="script")
        try:
            await use_cases.sign_in_with_password()(
                SignInWithPasswordCommand(email="script@example.com", password="a-good-password")
            )
            banned_error = None
        except DomainError as exc:
            banned_error = exc.code
        return {
            "user_id": str(signed_up.user.id),
            "same_session": refreshed.session.id == session.session.id,
            "rotated": refreshed.refresh_token != session.refresh_token,
            "banned_sign_in": banned_error,
        }
    finally:
        await containers.stop(container)


if __name__ == "__main__":
    print(asyncio.run(main()))
