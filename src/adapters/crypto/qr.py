"""QR codes as SVG text for TOTP enrolment (`totp.qr_code`), drawn by segno."""

from __future__ import annotations

import io

import segno


class SegnoQrCodes:
    """The `QrCodes` port: error correction H (GoTrue's `qr.H`), black on transparent, no XML declaration."""

    def svg(self, text: str) -> str:
        out = io.BytesIO()
        segno.make(text, error="h", micro=False).save(out, kind="svg", xmldecl=False, svgns=True, scale=4, border=4)
        return out.getvalue().decode("utf-8")
