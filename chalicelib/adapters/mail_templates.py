"""Customer e-mails rendered with Jinja2 from chalicelib/templates/mail/<language>.{subject.txt,txt,html}.

One template per language and format; each branches on the message kind, so a translation is three files.
HTML autoescapes every value (a customer's address or notes cannot inject markup); the text and subject templates
do not escape (they are not markup). The environment is built on first use: no template is read at import.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "mail"
_lock = threading.Lock()
_envs: dict[bool, Any] = {}


def _env(html: bool) -> Any:
    with _lock:
        if html not in _envs:
            import jinja2

            _envs[html] = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=html,
                                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                             trim_blocks=True, lstrip_blocks=True)
        return _envs[html]


def render_mail(kind: str, language: str, context: dict) -> tuple[str, str, str]:
    """(subject, text body, HTML body) of a `kind` message in `language` (a language with templates)."""
    values = {**context, "kind": kind}
    subject = _env(False).get_template(f"{language}.subject.txt").render(values)
    text = _env(False).get_template(f"{language}.txt").render(values)
    html = _env(True).get_template(f"{language}.html").render(values)
    return " ".join(subject.split()), text, html
