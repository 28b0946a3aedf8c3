"""The sign-in, sign-out and message pages: small server-rendered HTML, no script, no external
asset (the offline promise holds before sign-in too). Every value is escaped."""

from __future__ import annotations

import html

__all__ = ["login_page", "logout_page", "message_page"]

_CSS = """
body { background: #0e1117; color: #e6edf3; font: 16px/1.45 system-ui, sans-serif;
       display: flex; min-height: 100vh; margin: 0; align-items: center; justify-content: center; }
main { background: #161b22; border: 1px solid #30363d; border-radius: 10px; padding: 2rem 2.2rem;
       width: min(24rem, 90vw); }
h1 { font-size: 1.5rem; margin: 0 0 1.2rem; }
label { display: block; margin: .8rem 0 .3rem; }
input[type=text], input[type=password] { width: 100%; box-sizing: border-box; padding: .55rem;
       border-radius: 6px; border: 1px solid #30363d; background: #0d1117; color: inherit; }
button { margin-top: 1.3rem; width: 100%; padding: .6rem; border: 0; border-radius: 6px;
         background: #ff9f1c; color: #000; font-weight: 700; font-size: 1rem; cursor: pointer; }
.msg { background: #8b1a1a; padding: .5rem .8rem; border-radius: 6px; }
.note { opacity: .75; font-size: .9rem; margin-top: 1rem; }
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta name='referrer' content='same-origin'>"
        f"<title>{html.escape(title)} · CityOps</title><style>{_CSS}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def login_page(
    action: str, csrf: str, next_url: str, *, message: str = "", note: str = "", user: str = ""
) -> str:
    """The sign-in form (POST to ``action`` with its CSRF token)."""
    msg = f"<p class='msg' id='co-login-msg'>{html.escape(message)}</p>" if message else ""
    foot = f"<p class='note'>{html.escape(note)}</p>" if note else ""
    return _page(
        "Sign in",
        "<h1>CityOps · sign in</h1>"
        f"{msg}<form method='post' action='{html.escape(action)}' autocomplete='on'>"
        f"<input type='hidden' name='csrf' value='{html.escape(csrf)}'>"
        f"<input type='hidden' name='next' value='{html.escape(next_url)}'>"
        "<label for='username'>User name</label>"
        f"<input type='text' id='username' name='username' value='{html.escape(user)}' "
        "autocomplete='username' autofocus required maxlength='64'>"
        "<label for='password'>Password</label>"
        "<input type='password' id='password' name='password' "
        "autocomplete='current-password' required maxlength='1024'>"
        "<button type='submit' id='co-sign-in'>Sign in</button></form>" + foot,
    )


def logout_page(action: str, token: str) -> str:
    """Asks before signing out (reached without the page's signed link)."""
    return _page(
        "Sign out",
        "<h1>Sign out of CityOps?</h1>"
        f"<form method='post' action='{html.escape(action)}'>"
        f"<input type='hidden' name='t' value='{html.escape(token)}'>"
        "<button type='submit' id='co-sign-out'>Sign out</button></form>",
    )


def message_page(title: str, text: str, link: str | None = None, link_text: str = "") -> str:
    """A short message (a refused or revoked link, a forbidden request)."""
    a = ""
    if link:
        a = (
            f"<p><a href='{html.escape(link)}' style='color:#ff9f1c'>"
            f"{html.escape(link_text)}</a></p>"
        )
    return _page(
        title, f"<h1>{html.escape(title)}</h1><p id='co-message'>{html.escape(text)}</p>{a}"
    )
