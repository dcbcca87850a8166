"""Configuration read once at start (config.md §1–3, §7).

The process environment, completed by a `.env` file for keys it does not set, is parsed
with GoTrue's rules into the frozen sections declared in `pytrue.application.config`. A bad
value raises `SettingsError` naming the variable; secrets never appear in messages or in
`repr()`.
"""

from pytrue.application.config import Settings, redact_url
from pytrue.entrypoints.settings.dotenv import read_dotenv
from pytrue.entrypoints.settings.errors import SettingsError
from pytrue.entrypoints.settings.loader import Variable, key_set, load_settings, variables

__all__ = ["Settings", "SettingsError", "Variable", "key_set", "load_settings", "read_dotenv", "redact_url", "variables"]
