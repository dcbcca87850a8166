"""`GOTRUE_SMS_TEMPLATE` rendered with the Go text/template subset the mail templates use."""

from __future__ import annotations

import re
from collections.abc import Callable

from pytrue.adapters.mail import gotemplate
from pytrue.domain.phone import SmsTemplate

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.S)
_FIELD = re.compile(r"(?<![A-Za-z0-9_\"'`])\.([A-Za-z_][A-Za-z0-9_]*)")


def sms_renderer(source: str) -> Callable[[str], str]:
    """Parse the template once; returns code -> text (plain text: nothing is escaped).

    `TemplateError` when it is malformed or names a field other than `.Code`: Go's text/template
    would fail every send with 500 "error generating sms template"; refusing it at start says so once."""
    text = SmsTemplate.of(source).source
    template = gotemplate.parse(text)
    for action in _ACTION.findall(text):
        for name in _FIELD.findall(action):
            if name != "Code":
                raise gotemplate.TemplateError(f"the SMS template may only use .Code, not .{name}")

    def render(otp: str) -> str:
        return template.render(SmsTemplate.data(otp))

    return render
